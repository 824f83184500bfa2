from __future__ import annotations

from django.urls import path, re_path

from api import views
from api.errors import not_found

app_name = "api"

urlpatterns = [
    path("contacts", views.ContactListView.as_view(), name="contacts"),
    path("contacts/<str:phone>", views.ContactDetailView.as_view(), name="contact"),
    path("contacts/<str:phone>/messages", views.ContactMessagesView.as_view(), name="contact-messages"),
    path("contacts/<str:phone>/actions", views.ContactActionsView.as_view(), name="contact-actions"),
    path("contacts/<str:phone>/classify", views.ContactClassifyView.as_view(), name="contact-classify"),
    path("contacts/<str:phone>/pause", views.ContactPauseView.as_view(), name="contact-pause"),
    path("contacts/<str:phone>/resume", views.ContactResumeView.as_view(), name="contact-resume"),
    path("messages/send", views.SendMessageView.as_view(), name="message-send"),
    path("messages/<int:contact_id>", views.ConversationView.as_view(), name="conversation"),
    path("logs/messages", views.MessageLogView.as_view(), name="message-log"),
    path("follow-ups/active", views.FollowUpActiveView.as_view(), name="followups-active"),
    path("follow-ups/pending", views.FollowUpPendingView.as_view(), name="followups-pending"),
    path("scheduled-calls", views.ScheduledCallListView.as_view(), name="calls"),
    path("payments", views.PaymentListView.as_view(), name="payments"),
    path("payments/<int:pk>/check", views.PaymentCheckView.as_view(), name="payment-check"),
    path("payments/<int:pk>/refund", views.PaymentRefundView.as_view(), name="payment-refund"),
    path("stats", views.StatsView.as_view(), name="stats"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other path under /api/ answers a JSON 404, never Django's HTML page.
    re_path(r"^.*$", not_found),
]
