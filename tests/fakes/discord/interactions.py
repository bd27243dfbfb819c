"""Interactions: the ack callback (3 s deadline, single use) and the interaction webhook (token life)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from tests.fakes.discord.limits import check_choices
from tests.fakes.discord.messages import MessageStore, UploadedFile
from tests.fakes.discord.modals import check_modal
from tests.fakes.discord.models import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    Clock,
    FakeHTTPError,
    FakeUser,
    MessageRecord,
    form_error,
)
from tests.fakes.discord.state import DiscordState, unknown

T = TypeVar("T")

# Interaction type -> callback types Discord accepts for it (a modal submit cannot open another modal).
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    1: frozenset({1}),
    2: frozenset({4, 5, 9}),
    3: frozenset({4, 5, 6, 7, 9}),
    4: frozenset({8}),
    5: frozenset({4, 5, 6, 7}),
}


class FakeInteraction:
    """An interaction the fake dispatched, and everything the bot did with it (times from the fake's clock)."""

    def __init__(
        self,
        *,
        interaction_id: int,
        token: str,
        interaction_type: int,
        name: str,
        guild_id: int,
        channel_id: int,
        user: FakeUser,
        created_at: float,
        token_expires_at: float,
        target_message_id: int | None = None,
    ) -> None:
        self.id = interaction_id
        self.token = token
        self.type = interaction_type
        self.name = name
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user = user
        self.created_at = created_at
        self.token_expires_at = token_expires_at
        self.target_message_id = target_message_id
        self.payload: dict[str, Any] = {}
        self.acked_at: float | None = None
        self.callback_type: int | None = None
        self.callback_data: dict[str, Any] | None = None
        self.ephemeral = False
        self.original: MessageRecord | None = None
        self.followups: list[MessageRecord] = []
        self.choices: list[dict[str, Any]] | None = None
        self.modal: dict[str, Any] | None = None
        self.rejected_callbacks: list[tuple[float, int, int]] = []
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<FakeInteraction {self.describe()}>"

    @property
    def acked(self) -> bool:
        """Whether a callback was accepted."""
        return self.acked_at is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the accepted callback."""
        return None if self.acked_at is None else self.acked_at - self.created_at

    @property
    def deferred(self) -> bool:
        """Whether the ack was a defer (callback type 5 or 6)."""
        return self.callback_type in (5, 6)

    def describe(self) -> str:
        """One line of state, used in timeout messages."""
        original = self.original
        shown = None if original is None else {"content": original.content[:80], "flags": original.flags}
        return (
            f"id={self.id} name={self.name!r} type={self.type} callback_type={self.callback_type} "
            f"original={shown} followups={len(self.followups)} rejected={self.rejected_callbacks}"
        )

    def notify(self) -> None:
        """Wake the waiters: something about this interaction changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], *, timeout: float, what: str) -> T:
        """Wait until `check()` returns something truthy, or fail with an AssertionError saying what was awaited."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}: {self.describe()}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_acked(self, timeout: float = 5.0) -> FakeInteraction:
        """Wait for the accepted callback (defer or reply)."""
        return await self.wait_for(lambda: self if self.acked else None, timeout=timeout, what="the ack")

    async def wait_for_response(
        self, timeout: float = 5.0, predicate: Callable[[MessageRecord], bool] | None = None
    ) -> MessageRecord:
        """Wait until the original response is a real message (not a "thinking…" placeholder) matching `predicate`."""

        def check() -> MessageRecord | None:
            message = self.original
            if message is None or message.loading or message.deleted:
                return None
            return message if predicate is None or predicate(message) else None

        return await self.wait_for(check, timeout=timeout, what="the original response")

    async def wait_for_followup(
        self, timeout: float = 5.0, predicate: Callable[[MessageRecord], bool] | None = None
    ) -> MessageRecord:
        """Wait for a followup message (a separate one, not a resolved defer) matching `predicate`."""

        def check() -> MessageRecord | None:
            return next((m for m in self.followups if predicate is None or predicate(m)), None)

        return await self.wait_for(check, timeout=timeout, what="a followup")

    async def wait_modal(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the modal the bot opened in answer (callback type 9) and return it."""
        return await self.wait_for(lambda: self.modal, timeout=timeout, what="a modal")

    async def wait_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait for the autocomplete result (callback type 8) and return its choices."""
        await self.wait_for(lambda: self.choices is not None, timeout=timeout, what="autocomplete choices")
        return self.choices or []


class InteractionService:
    """Handles `/interactions/{id}/{token}/callback` and `/webhooks/{app}/{token}…` for dispatched interactions."""

    def __init__(
        self, state: DiscordState, messages: MessageStore, *, clock: Clock, ack_deadline: float, token_life: float
    ) -> None:
        self.state = state
        self.messages = messages
        self.clock = clock
        self.ack_deadline = ack_deadline
        self.token_life = token_life
        self.by_id: dict[int, FakeInteraction] = {}
        self.by_token: dict[str, FakeInteraction] = {}
        self.all: list[FakeInteraction] = []

    def register(self, interaction: FakeInteraction) -> None:
        """Make an interaction known to the callback and webhook routes."""
        self.by_id[interaction.id] = interaction
        self.by_token[interaction.token] = interaction
        self.all.append(interaction)

    # ----- callback -----

    def callback(self, interaction_id: int, token: str, body: Any, files: list[UploadedFile]) -> dict[str, Any]:
        """Accept the single allowed response within the deadline; the answer is what `with_response` returns."""
        now = self.clock()
        interaction = self.by_id.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise FakeHTTPError(404, 10062, "Unknown interaction")
        try:
            if interaction.acked_at is not None:
                raise FakeHTTPError(400, 40060, "Interaction has already been acknowledged.")
            if now - interaction.created_at > self.ack_deadline:
                raise FakeHTTPError(404, 10062, "Unknown interaction")
            callback_type, data = self._callback_body(interaction, body)
            message = self._respond(interaction, callback_type, data, files)
        except FakeHTTPError as error:
            interaction.rejected_callbacks.append((now, error.status, error.code))
            interaction.notify()
            raise
        interaction.acked_at = now
        interaction.callback_type = callback_type
        interaction.callback_data = data
        interaction.notify()
        answer: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type, "activity_instance_id": None}
        result: dict[str, Any] = {"interaction": answer}
        if message is not None:
            answer["response_message_id"] = str(message.id)
            answer["response_message_loading"] = message.loading
            answer["response_message_ephemeral"] = message.ephemeral
            if callback_type in (4, 5, 7):
                result["resource"] = {"type": callback_type, "message": self.messages.payload(message)}
        return result

    def _callback_body(self, interaction: FakeInteraction, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            raise form_error("type", "BASE_TYPE_REQUIRED", "This field is required")
        callback_type = body["type"]
        if callback_type not in ALLOWED_CALLBACKS.get(interaction.type, frozenset()):
            raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type")
        data = body.get("data") or {}
        return callback_type, data

    def _respond(
        self, interaction: FakeInteraction, callback_type: int, data: dict[str, Any], files: list[UploadedFile]
    ) -> MessageRecord | None:
        channel = self.state.channel(interaction.channel_id)
        if callback_type == 4:
            message = self._create(interaction, data, files, via="callback")
            interaction.original = message
            interaction.ephemeral = message.ephemeral
            return message
        if callback_type == 5:
            ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self.messages.create(
                channel,
                self.state.bot_user,
                {},
                [],
                via="defer",
                extra_flags=FLAG_LOADING | (FLAG_EPHEMERAL if ephemeral else 0),
                message_type=20 if interaction.type == 2 else 0,
                interaction_id=interaction.id,
                interaction_metadata=self._metadata(interaction),
                placeholder=True,
            )
            interaction.original = message
            interaction.ephemeral = ephemeral
            return message
        if callback_type in (6, 7):
            target = self.messages.by_id.get(interaction.target_message_id or 0)
            if target is None or target.deleted:
                raise unknown("Message", 10008)
            if callback_type == 7:
                self.messages.edit(target, data, files, via="update")
            interaction.original = target
            interaction.ephemeral = target.ephemeral
            return target
        if callback_type == 8:
            interaction.choices = check_choices(data)
        elif callback_type == 9:
            interaction.modal = check_modal(data)
        return None

    def _metadata(self, interaction: FakeInteraction, *, original_id: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user.payload(),
            "authorizing_integration_owners": {"0": str(interaction.guild_id)},
        }
        if interaction.type == 2:
            data["name"] = interaction.name
            data["command_type"] = 1
        if interaction.target_message_id is not None:
            data["interacted_message_id"] = str(interaction.target_message_id)
        if original_id is not None:
            data["original_response_message_id"] = str(original_id)
        return data

    def _create(
        self, interaction: FakeInteraction, data: dict[str, Any], files: list[UploadedFile], *, via: str
    ) -> MessageRecord:
        original = interaction.original
        return self.messages.create(
            self.state.channel(interaction.channel_id),
            self.state.bot_user,
            data,
            files,
            via=via,
            allow_ephemeral=True,
            message_type=20 if interaction.type == 2 else 0,
            interaction_id=interaction.id,
            interaction_metadata=self._metadata(interaction, original_id=original.id if original else None),
        )

    # ----- interaction webhook -----

    def for_token(self, application_id: int, token: str) -> FakeInteraction:
        """The interaction behind a webhook token; 401 50027 once the token has expired."""
        interaction = self.by_token.get(token)
        if interaction is None or application_id != self.state.application_id:
            raise FakeHTTPError(401, 50027, "Invalid Webhook Token")
        if self.clock() >= interaction.token_expires_at:
            raise FakeHTTPError(401, 50027, "Invalid Webhook Token")
        if interaction.acked_at is None:
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        return interaction

    def execute(self, application_id: int, token: str, body: Any, files: list[UploadedFile]) -> MessageRecord:
        """A followup; the first one after a deferred (type 5) ack becomes the original response, as on Discord."""
        interaction = self.for_token(application_id, token)
        body = body if isinstance(body, dict) else {}
        original = interaction.original
        if interaction.callback_type == 5 and original is not None and original.loading and not original.deleted:
            # Ephemerality was fixed by the defer: the followup's own flags cannot change it.
            self.messages.edit(original, body, files, via="followup", resolve_placeholder=True)
            interaction.notify()
            return original
        message = self._create(interaction, body, files, via="followup")
        interaction.followups.append(message)
        interaction.notify()
        return message

    def find(self, application_id: int, token: str, ref: str) -> tuple[FakeInteraction, MessageRecord]:
        """`@original` or a followup id of this interaction, or 404 Unknown Message."""
        interaction = self.for_token(application_id, token)
        message: MessageRecord | None
        if ref == "@original":
            message = interaction.original
        else:
            wanted = int(ref) if ref.isdigit() else -1
            candidates = [interaction.original, *interaction.followups]
            message = next((m for m in candidates if m is not None and m.id == wanted), None)
        if message is None or message.deleted:
            raise unknown("Message", 10008)
        return interaction, message

    def edit(self, application_id: int, token: str, ref: str, body: Any, files: list[UploadedFile]) -> MessageRecord:
        """PATCH a webhook message; editing a deferred placeholder resolves it."""
        interaction, message = self.find(application_id, token, ref)
        body = body if isinstance(body, dict) else {}
        self.messages.edit(message, body, files, via="webhook_edit", resolve_placeholder=message.loading)
        interaction.notify()
        return message

    def delete(self, application_id: int, token: str, ref: str) -> None:
        """DELETE a webhook message."""
        interaction, message = self.find(application_id, token, ref)
        self.messages.delete(message)
        interaction.notify()
