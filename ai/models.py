from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from contacts.models import Contact
from messaging.models import Message


class ModelCall(models.Model):
    """One call to a model (Gemini or the offline backend): what it was for, what it cost."""

    class Purpose(models.TextChoices):
        CLASSIFY = "classify", "Классификация"
        REPLY = "reply", "Ответ"
        FOLLOW_UP = "follow_up", "Follow-up"
        INTENT = "intent", "Намерение"
        TRANSCRIBE = "transcribe", "Расшифровка"
        POST_PURCHASE = "post_purchase", "После покупки"
        HANDOFF = "handoff", "Сводка для менеджеров"

    backend = models.CharField("бэкенд", max_length=16)  # gemini / offline
    purpose = models.CharField("назначение", max_length=16, choices=Purpose.choices)
    model = models.CharField("модель", max_length=64)
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="model_calls", verbose_name="контакт"
    )
    prompt_name = models.CharField("промпт", max_length=64, blank=True)
    prompt_version = models.CharField("версия промпта", max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField("токены запроса", default=0)
    cached_tokens = models.PositiveIntegerField("из кэша", default=0)
    output_tokens = models.PositiveIntegerField("токены ответа", default=0)
    thinking_tokens = models.PositiveIntegerField("токены размышлений", default=0)
    cost_usd = models.DecimalField("стоимость, $", max_digits=12, decimal_places=8, default=0)
    latency_ms = models.PositiveIntegerField("задержка, мс", default=0)
    ok = models.BooleanField("успешно", default=True)
    error = models.TextField("ошибка", blank=True)
    # The explicit context cache the request referred to ("cachedContents/..."), if any.
    cache_name = models.CharField("кэш контекста", max_length=128, blank=True)
    created_at = models.DateTimeField("время", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "вызов модели"
        verbose_name_plural = "вызовы модели (токены и стоимость)"
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["purpose", "-created_at"], name="modelcall_purpose_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.model} · {self.created_at:%d.%m %H:%M}"


class PromptOverride(models.Model):
    """An operator's version of a prompt. The newest active row wins over the file in
    ai/prompts/; older rows are the history. Deactivate all to fall back to the file."""

    class Name(models.TextChoices):
        MODERATOR = "moderator_prompt", "Модератор"
        SALES_AGENT = "sales_agent_prompt", "Ассистент по продажам"
        FOLLOW_UP = "follow_up_prompt", "Follow-up"

    name = models.CharField("промпт", max_length=64, choices=Name.choices)
    text = models.TextField("текст")
    is_active = models.BooleanField("действует", default=True)
    note = models.CharField("что изменено", max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name="автор"
    )
    created_at = models.DateTimeField("создан", auto_now_add=True)

    class Meta:
        verbose_name = "версия промпта"
        verbose_name_plural = "промпты (версии операторов)"
        ordering = ("name", "-created_at")

    def __str__(self) -> str:
        return f"{self.get_name_display()} v{self.pk}"

    @property
    def version(self) -> str:
        return f"db:{self.pk}"


class ClassificationRecord(models.Model):
    """Every verdict on a contact, by the model or an operator: the audit trail."""

    class Source(models.TextChoices):
        MODEL = "model", "Модель"
        OPERATOR = "operator", "Оператор"

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="classifications", verbose_name="контакт"
    )
    source = models.CharField("кто решил", max_length=16, choices=Source.choices)
    is_client = models.BooleanField("клиент", null=True)
    confidence = models.FloatField("уверенность", null=True, blank=True)
    reasoning = models.TextField("обоснование", blank=True)
    request_type = models.CharField("тип обращения", max_length=16, blank=True)
    model_call = models.ForeignKey(
        ModelCall, on_delete=models.SET_NULL, null=True, blank=True, verbose_name="вызов модели"
    )
    error = models.TextField("ошибка", blank=True)
    # Set when an operator asked the model to decide again (the API's classify, the admin's
    # re-classify action): such a verdict replaces an operator's, so the trail says who asked.
    forced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="пересмотр запросил",
        help_text="Оператор, попросивший модель решить заново (пусто — обычное решение или неизвестно кто)",
    )
    forced_at = models.DateTimeField(
        "пересмотр запрошен", null=True, blank=True, help_text="Когда оператор попросил модель решить заново"
    )
    created_at = models.DateTimeField("время", auto_now_add=True)

    class Meta:
        verbose_name = "решение о контакте"
        verbose_name_plural = "решения о контактах (журнал)"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.contact} → {self.is_client} ({self.get_source_display()})"


class PendingReply(models.Model):
    """A customer waiting for a real answer because the model was unavailable: retried by a
    periodic task until it succeeds or the customer writes again."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="pending_replies", verbose_name="контакт"
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="pending_replies", verbose_name="сообщение клиента"
    )
    due_at = models.DateTimeField("повторить в")
    attempts = models.PositiveSmallIntegerField("попыток", default=0)
    last_error = models.TextField("ошибка", blank=True)
    resolved_at = models.DateTimeField("решено", null=True, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True)

    class Meta:
        verbose_name = "ожидающий ответ"
        verbose_name_plural = "ожидают ответа (модель недоступна)"
        ordering = ("due_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(resolved_at__isnull=True), name="pendingreply_one_open_per_contact"
            ),
        ]
        indexes = [models.Index(fields=["due_at"], condition=Q(resolved_at__isnull=True), name="pendingreply_due_idx")]

    def __str__(self) -> str:
        return f"{self.contact} · {self.due_at:%d.%m %H:%M}"


class KnowledgeDocument(models.Model):
    """One PDF of the knowledge base: where it is, what came out of it, and why not when nothing did."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Ждёт индексации"
        INDEXED = "indexed", "Проиндексирован"
        PASSWORD_REQUIRED = "password_required", "Нужен пароль"
        NO_TEXT_LAYER = "no_text_layer", "Нет текстового слоя (нужен OCR)"
        FAILED = "failed", "Ошибка"

    path = models.CharField("файл", max_length=500, unique=True)
    title = models.CharField("название", max_length=255, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    pages = models.PositiveIntegerField("страниц", default=0)
    characters = models.PositiveIntegerField("символов", default=0)
    status = models.CharField("статус", max_length=32, choices=Status.choices, default=Status.FAILED)
    warnings = models.TextField("предупреждения", blank=True)
    # Entered by an operator for a protected file; the loader retries with it.
    password = models.CharField("пароль PDF", max_length=255, blank=True)
    indexed_at = models.DateTimeField("проиндексирован", null=True, blank=True)
    # A failed file (status `failed`, the reason in `warnings`) is kept by its hash: the refresh does
    # not read it again until the file changes or an operator asks for a re-index.
    failed_at = models.DateTimeField("ошибка индексации", null=True, blank=True)
    # Set by an upload, a re-index or a new password (the admin): the next refresh reads the file
    # even if its hash is unchanged.
    index_requested_at = models.DateTimeField("индексация запрошена", null=True, blank=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "документ базы знаний"
        verbose_name_plural = "база знаний (документы)"
        ordering = ("path",)

    def __str__(self) -> str:
        return self.title or self.path


class KnowledgeChunk(models.Model):
    """A piece of a document's text (paragraphs under one heading, table rows kept whole), the unit of search."""

    document = models.ForeignKey(
        KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks", verbose_name="документ"
    )
    position = models.PositiveIntegerField("порядок")
    heading = models.CharField("раздел", max_length=255, blank=True)
    text = models.TextField("текст")

    class Meta:
        verbose_name = "фрагмент базы знаний"
        verbose_name_plural = "база знаний (фрагменты)"
        ordering = ("document", "position")
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="knowledgechunk_document_position_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.position}"


class ContextCache(models.Model):
    """A Gemini explicit context cache of the sales assistant's stable prefix (system instruction
    with the knowledge base, tool declarations), or the record that one could not be made.

    `key` is the sha256 of what is cached (model, system instruction, tools): any change to the
    knowledge base, the prompt or the tools gives a new key and so a new cache; the old one is
    deleted at Gemini. One active row per key."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Действует"
        EXPIRED = "expired", "Истёк"
        REPLACED = "replaced", "Заменён"
        GONE = "gone", "Пропал у Gemini"
        TOO_SMALL = "too_small", "Меньше минимума модели"
        FAILED = "failed", "Ошибка создания"

    key = models.CharField("ключ содержимого", max_length=64)
    model = models.CharField("модель", max_length=64)
    name = models.CharField("имя у Gemini", max_length=128, blank=True)
    status = models.CharField("статус", max_length=16, choices=Status.choices)
    token_count = models.PositiveIntegerField("токенов", default=0)
    prompt_version = models.CharField("версия промпта", max_length=64, blank=True)
    knowledge_chars = models.PositiveIntegerField("символов базы знаний", default=0)
    hits = models.PositiveIntegerField("запросов с кэшем", default=0)
    error = models.TextField("ошибка", blank=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    expire_at = models.DateTimeField("истекает", null=True, blank=True)
    ended_at = models.DateTimeField("закрыт", null=True, blank=True)

    class Meta:
        verbose_name = "кэш контекста Gemini"
        verbose_name_plural = "кэши контекста Gemini"
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(status="active"), name="contextcache_one_active_per_key"
            ),
            models.UniqueConstraint(fields=["name"], condition=~Q(name=""), name="contextcache_name_unique"),
        ]
        indexes = [models.Index(fields=["status", "model"], name="contextcache_status_idx")]

    def __str__(self) -> str:
        return f"{self.name or self.key[:12]} · {self.get_status_display()}"
