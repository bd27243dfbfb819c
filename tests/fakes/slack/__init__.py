"""Fake Slack: Web API, Socket Mode, HTTP mode, response URLs, uploads and files on 127.0.0.1, for the real clients.

Start it and point the clients at it::

    async with FakeSlack(ack_timeout=1.0) as slack:          # a first workspace is slack.team
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        app = AsyncApp(client=client)
        handler = AsyncSocketModeHandler(app, slack.app_token)  # apps.connections.open -> ws://…/link/
        await handler.connect_async(); await slack.wait_connected()

`SLACK_API_BASE_URL` = `slack.api_url`; `slack.bot_token` is `xoxb-…` (one per workspace: `team.bot_token`),
`slack.app_token` is `xapp-…`. Constructor: `clock` (monotonic, for trigger expiry; `models.ManualClock` moves
by hand), `wall_clock` (message ts), `ack_timeout` (Socket Mode ack deadline, 3 s like Slack; shorter in
tests), `trigger_life` (3 s), `share_delay` (seconds before an upload's share appears; None: never),
`rate_limits` (True: Slack's tiers enforced; `slack.rate_limits.set(method, per_minute=, burst=)` tunes one,
`slack.rate_limits.enabled = False` turns them off, `slack.rate_limits.refusals` lists the 429s).

World (server.FakeSlack): `add_team(name, scopes=)`, `add_user(name, team=, channels=(ch,…), is_admin=,
is_owner=, is_primary_owner=, locale=, deleted=)`, `add_channel(name, team=, private=, members=(u,…),
bot_member=)`, `im(user)`, `add_usergroup(handle, (u,…))`, `add_member_file(user, name, bytes, mimetype)`
(for a form's file_input), `post_user_message(channel, user, text)`. A team's `scopes` set is live: remove one
to get `missing_scope`; `team.usergroups_enabled = False` gives `plan_upgrade_required`.

What happened: `messages(channel)` (oldest first, thread replies included; `FakeMessage` has ts, text, user,
bot_id, blocks, metadata, thread_ts, edited, deleted, unfurl_links), `message(channel, ts)`,
`ephemerals(user)` (`via` = "ack" | "response_url" | "chat.postEphemeral"), `calls(method)` (`CallRecord`:
args as received, token_kind, team_id, ok, error, status), `views(user)` (`FakeView`: view, open, updates),
`downloads` ((file id, authorised) per url_private GET), `state.response_urls[id].posts`, `files()`,
`file_messages(channel)` (messages showing a live file: count visible videos with it), `pings(channel)`
((message, `mentions.Pings(users, groups, broadcasts)`) per message: whom each post notified), `pinged(channel)`
(all of them at once; edits notify nobody, as on Slack).

Members' actions, sent as Socket Mode envelopes and waiting for the ack (`socket_mode.NotAcked` when none
comes within the ack timeout; `NoConnection` when no socket is open):
`await slack.slash_command("/veo", "text", channel=, user=, escape=False)` -> `Interaction(ack, trigger_id,
response_url)` (`escape=True`: as a command with `should_escape: true`, `#videos @mods @ana` arrive as
`<#C…|videos> <!subteam^S…|@mods> <@U…|ana>`)
(an ack body becomes an ephemeral reply, or a channel message with `response_type: in_channel`);
`await slack.submit_view(view, {"prompt": "…", "first": [file], "orientation": "16x9"})` -> `Submission(ack,
action, view, errors)`: values by block id (text, option value, list of FakeFile), the form's initial values
otherwise; raises ValueError for what Slack's own form would not let through (a required field empty, over
max_length, an option not offered, a file over 10 MB); then applies `response_action` (errors must name input
blocks; update/push/clear; none closes the modal); `await slack.click(message, "action_id", user=)` (the element
must be in the message's blocks); `close_view(view)`; `message_shortcut(message, callback_id, user=)`,
`global_shortcut(callback_id, user=)`; `send_envelope(type, payload)`; `send_event(event, retries=n)` (re-sent
with retry_attempt/retry_reason while unacked).
Socket faults: `disconnect_socket(reason)` (Socket Mode `disconnect`), `freeze_socket()` (silent: no pongs,
nothing delivered), `drop_socket()` (TCP cut, no close frame); `wait_connected(count)` counts connections ever
opened. `slack.socket.envelopes` records each envelope sent (type, payload, retry_attempt, ack or None); an
event keeps its `event_id` across re-sends; a link URL opens one connection only.

Uploads: files.getUploadURLExternal (`file_upload_size_restricted` over `team.file_size_limit`; a single-use
`upload_url` on the fake), the upload POST (raw or multipart, read streamed; answers `OK - <bytes>`; a second
POST to the same URL gets 404), files.completeUploadExternal (`files` JSON, channel_id, thread_ts, blocks as
JSON text, `initial_comment` overriding blocks; the bot must be in the channel; no `ts` in the answer; a second
completion of a file is refused with `file_already_completed`), then the share's message after `share_delay`,
visible in `files.info` as `shares.public|private[channel][0].ts`; files.info, files.delete (own files; a
share that lands after the delete shows a tombstone). Controls: `hold_uploads()` -> gate (`gate.waiting` counts
POSTs holding after their bytes arrived) and `release_uploads()`; `set_share_delay(s | None)`; `hold_shares()`
and `release_shares()`; `drop_uploads(times)` (the bytes arrive, the connection is cut before the answer);
`slack.uploads.pending` lists shares not yet shown.

HTTP mode: `slack.use_http(url, signing_secret)` sends members' actions as signed POSTs (form bodies for
commands, `payload=` for interactions, JSON for events; `X-Slack-Signature` from slack_sdk's
SignatureVerifier); an event with no 2xx in the ack timeout is re-sent with `X-Slack-Retry-Num` /
`X-Slack-Retry-Reason` (unless answered `X-Slack-No-Retry: 1`); `delivery.post(type, payload, signature=,
timestamp=)` forges bad requests; `delivery.attempts` records each POST.

Web API (`GET|POST /api/<method>`, arguments from query, form or JSON; Bearer or `token` argument;
`not_authed`, `invalid_auth`, `not_allowed_token_type`; `x-oauth-scopes` / `x-accepted-oauth-scopes` headers;
`missing_scope` with `needed`/`provided`; 429 `ratelimited` with `Retry-After` per method per workspace by tier,
and for chat.postMessage per channel, 1/s with a burst of 5): auth.test, apps.connections.open (app token),
chat.postMessage (`no_text`, `msg_too_long`, `invalid_blocks` with reasons, `invalid_metadata_format`,
`thread_not_found`, `not_in_channel` / `channel_not_found`; a user id posts to the IM), chat.update /
chat.delete (own messages only: `cant_update_message`, `message_not_found`), chat.postEphemeral (`user_not_in_channel`),
chat.getPermalink, conversations.history / replies (metadata only with `include_all_metadata`; oldest, latest,
inclusive, limit, cursor), conversations.info / join (public only: `method_not_supported_for_channel_type`) /
open, users.info (`locale` with `include_locale`), usergroups.list / usergroups.users.list, views.open / push /
update (`expired_trigger_id` after trigger_life, `exchanged_trigger_id`, `hash_conflict`, `not_found` once
closed, `push_limit_reached`). response_url: POST JSON (`ephemeral` | `in_channel`, replace_original,
delete_original); 5 uses in 30 minutes, then 404. `url_private[_download]`: the bytes with the workspace's bot
token and `files:read`, else Slack's HTML sign-in page with HTTP 200.

Faults: `inject(method, error=, status=, times=, retry_after=)` (`*` matches any method; status 429 answers
`ratelimited` with `Retry-After`), `inject_drop(method, after_processing=)` (after: the call took effect but the
connection is cut before the answer, the ambiguous send), `inject_hold(method, after_processing=)` -> fault (the
call waits before or after taking effect until `fault.release.set()`; `fault.holding` counts the waiting calls; a
held call still takes effect when its client has gone: kill the bot mid-post), `clear_faults()`.
`wait_for(predicate, timeout)` polls a sync or async predicate.
"""
