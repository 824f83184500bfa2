from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import SandboxChat, SandboxMessage, SandboxProfile


@admin.register(SandboxProfile)
class SandboxProfileAdmin(admin.ModelAdmin):
    list_display = ("__str__", "webhook_url", "media_mode", "fail_next_count", "cross_messages_get", "updated_at")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("name", "phone")}),
        ("Вебхук", {"fields": ("webhook_url", "webhook_auth", "webhook_types")}),
        (
            "Сбои (для тестов)",
            {
                "fields": (
                    "media_mode",
                    "failing_chats",
                    "fail_next_count",
                    "fail_status",
                    "send_delay_seconds",
                    "cross_messages_get",
                    "duplicate_webhooks",
                    "updated_at",
                )
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A singleton: the row appears on first use of the sandbox.
        return not SandboxProfile.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: SandboxProfile | None = None) -> bool:
        return False


class SandboxMessageInline(admin.TabularInline):
    model = SandboxMessage
    fields = ("time", "from_me", "type", "body", "is_read", "delivery_status", "message_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-time",)
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: SandboxChat | None = None) -> bool:
        return False


@admin.register(SandboxChat)
class SandboxChatAdmin(admin.ModelAdmin):
    list_display = ("phone", "name", "created_at")
    search_fields = ("phone", "name")
    readonly_fields = ("created_at",)
    inlines = (SandboxMessageInline,)


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    list_display = ("time", "chat", "from_me", "type", "short_body", "is_read", "delivery_status")
    list_filter = ("from_me", "type", "delivery_status", "is_read")
    search_fields = ("message_id", "body", "chat__phone", "chat__name")
    list_select_related = ("chat",)
    date_hierarchy = "time"
    readonly_fields = ("message_id", "chat", "from_me", "type", "from_where", "task_id", "voice_file", "created_at")

    @admin.display(description="текст")
    def short_body(self, obj: SandboxMessage) -> str:
        return obj.body[:80] if obj.body else ("🎤" if obj.voice_file else "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Messages come from the chat page and the emulated API, never typed into the admin.
        return False
