using System.Globalization;
using System.Text.Json;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// A card as sent: the HTML, its buttons (none once decided), the full text as a file when it did not fit, and its
/// length as Telegram counts it (at most 4096).
/// </summary>
internal sealed record RenderedCard(string Html, InlineKeyboardMarkup? Buttons, CardAttachment? Attachment, int Length);

internal sealed record CardAttachment(string FileName, byte[] Content, string Caption);

/// <summary>
/// Renders a draft as its card, for every state: buttons while it awaits a decision, then a status line
/// ("Approved by … at …", the execution outcome) with the buttons gone. The same draft always renders
/// the same, so re-editing a card after a redelivered update is a no-op ("message is not modified").
/// </summary>
internal static class CardRenderer
{
    /// <summary>
    /// The room a card showing the full text keeps for the status line a decided card leads with: a longer status
    /// line is shortened to what is left, never the text.
    /// </summary>
    public const int StatusRoom = 80;

    private const string Separator = "\n\n";
    private const int MaxRationale = 600;
    private const int MaxUrlLabel = 200;
    private const int MaxOutcome = 400;
    private const int MaxPreview = 3000;

    /// <summary>
    /// Whether the card shows the full text, or a preview with the full text as a file. Decided only from what never
    /// changes (the header and the text), never from the state: the card is sent with this layout and every later
    /// edit keeps it, so a decided card never claims a file that was not sent, nor loses text it showed.
    /// </summary>
    public static bool ShowsFullText(Draft draft) =>
        draft.Text is { } text && Header(draft).PlainLength + Separator.Length + text.Length + Separator.Length + StatusRoom <= HtmlText.MaxMessageLength;

    public static RenderedCard Render(Draft draft) => Render(draft, superseded: null);

    /// <summary>
    /// A card of a draft still awaiting a decision whose card was sent again below at <paramref name="at"/>: the same card
    /// without its buttons, leading with a line that sends the approver to the newer one, so the chat has one card to tap.
    /// </summary>
    public static RenderedCard RenderSuperseded(Draft draft, DateTimeOffset at) =>
        Render(draft, $"🔁 Sent again below at {FormatTime(at)}: decide on the newer card");

    /// <param name="superseded">The status line of a card replaced by a newer copy (no buttons then); null: the draft's own.</param>
    private static RenderedCard Render(Draft draft, string? superseded)
    {
        var header = Header(draft);
        var text = draft.Text ?? "";
        var body = new HtmlText().Append(header).Text(Separator);
        CardAttachment? attachment = null;
        HtmlText? status;
        if (draft.Text is null)
        {
            status = StatusLine(draft, superseded, int.MaxValue);
            body.Italic("⚠️ The text of this draft is missing from the store.");
        }
        else if (ShowsFullText(draft))
        {
            body.Text(text);
            // At least StatusRoom is left by the layout rule; a longer status line (a long name, an execution error) is cut to fit.
            status = StatusLine(draft, superseded, HtmlText.MaxMessageLength - body.PlainLength - Separator.Length);
        }
        else
        {
            status = StatusLine(draft, superseded, int.MaxValue);
            var fileName = FileName(draft);
            var notice = $"\n\n📎 The full text ({text.Length.ToString(CultureInfo.InvariantCulture)} characters) is in the attached file {fileName}.";
            var statusLength = status is null ? 0 : status.PlainLength + Separator.Length;
            var room = Math.Min(MaxPreview, HtmlText.MaxMessageLength - statusLength - body.PlainLength - notice.Length);
            body.Text(HtmlText.Shorten(text, Math.Max(1, room))).Text(notice);
            attachment = new CardAttachment(fileName, System.Text.Encoding.UTF8.GetBytes(text),
                $"Full text of {HtmlText.Shorten(draft.Id, 200)} · sha256 {draft.Sha256[..CallbackData.HashPrefixLength]}");
        }
        var card = new HtmlText();
        if (status is not null)
        {
            card.Append(status).Text(Separator);
        }
        card.Append(body);
        var buttons = superseded is null && DraftStateMachine.AwaitsDecision(draft.State) ? Buttons(draft) : null;
        return new RenderedCard(card.ToString(), buttons, attachment, card.PlainLength);
    }

    /// <summary>The status line; for a draft awaiting a decision, only when its text cannot be approved (and why).</summary>
    private static HtmlText? StatusLine(Draft draft, string? superseded, int max) =>
        superseded is not null ? new HtmlText().Bold(HtmlText.Shorten(superseded, max))
        : Status(draft, max) ?? (ApprovableText.Problem(draft) is { } problem
            ? new HtmlText().Bold(HtmlText.Shorten($"⚠️ Its text {ApprovableText.Said(problem)}: it can only be rejected", max))
            : null);

    /// <summary>Approve and Reject; Reject alone for a text that cannot be approved (<see cref="ApprovableText"/>).</summary>
    private static InlineKeyboardMarkup Buttons(Draft draft)
    {
        var reject = new InlineKeyboardButton("❌ Reject") { CallbackData = CallbackData.For(CallbackAction.Reject, draft.Seq, draft.Sha256).ToString() };
        return new(ApprovableText.Problem(draft) is null
            ? [[new InlineKeyboardButton("✅ Approve") { CallbackData = CallbackData.For(CallbackAction.Approve, draft.Seq, draft.Sha256).ToString() }, reject]]
            : [[reject]]);
    }

    public static string FormatTime(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>The line a decided card leads with, at most <paramref name="max"/> characters; null while the draft awaits a decision.</summary>
    public static HtmlText? Status(Draft d, int max = int.MaxValue)
    {
        if (StatusParts(d) is not { } parts)
        {
            return null;
        }
        var (lead, rest) = parts;
        var line = new HtmlText();
        if (lead.Length >= max)
        {
            return line.Bold(HtmlText.Shorten(lead, max));
        }
        if (lead.Length > 0)
        {
            line.Bold(lead);
        }
        return rest.Length > 0 ? line.Text(HtmlText.Shorten(rest, max - lead.Length)) : line;
    }

    /// <summary>The status line as plain text: the decision (shown bold) and what followed it.</summary>
    private static (string Lead, string After)? StatusParts(Draft d)
    {
        if (DraftStateMachine.AwaitsDecision(d.State))
        {
            return null;
        }
        var decided = d.Decision is not null;
        var lead = "";
        if (decided)
        {
            var who = d.DecidedByName ?? d.DecidedBy?.ToString(CultureInfo.InvariantCulture) ?? "?";
            var approved = string.Equals(d.Decision, "approved", StringComparison.Ordinal);
            lead = approved ? $"✅ Approved by {who}" : $"❌ Rejected by {who}";
            if (d.State is DraftState.Approved or DraftState.Rejected && d.ExecAttempts == 0 && d.DecidedAt is { } at)
            {
                return (lead, " at " + FormatTime(at));
            }
        }
        var outcome = d.State switch
        {
            DraftState.Executing => "⏳ Executing…",
            DraftState.Executed when d.MarkedDoneBy is { } by => MarkedDone(d, by),
            DraftState.Executed => $"📤 Executed {(d.ExecAt ?? d.UpdatedAt).ToUniversalTime().ToString("HH:mm", CultureInfo.InvariantCulture)}" + Detail(d.ExecResult),
            DraftState.Failed => ErrorLine("⚠️ Execution failed: " + (d.ExecError ?? "no reason recorded")),
            DraftState.Blocked => ErrorLine("⛔ Blocked (handoff check failed): " + (d.ExecError ?? "no reason recorded")),
            DraftState.Unknown => ErrorLine("❓ Outcome unknown, check the target: " + (d.ExecError ?? "no reason recorded")),
            DraftState.Cancelled when d.WithdrawnByAgent => Withdrawn(d),
            DraftState.Cancelled => decided ? "🗑 Discarded" : "🗑 Cancelled",
            DraftState.Expired => $"⌛ Expired at {FormatTime(d.StateSince)} without a decision",
            DraftState.Approved => ErrorLine("🔁 Waiting for another execution attempt" + Detail(d.ExecError)),
            _ => null,
        };
        return (lead, outcome is null ? "" : (decided ? " · " : "") + HtmlText.Shorten(outcome, MaxOutcome));
    }

    /// <summary>An error's status line at most <see cref="MaxOutcome"/> long, keeping both of its ends (<see cref="HtmlText.ShortenMiddle"/>).</summary>
    private static string ErrorLine(string line) => HtmlText.ShortenMiddle(line, MaxOutcome);

    /// <summary>"approved by Alice at 2026-11-22 14:03 UTC": a decided draft's decision, for the answers that name it.</summary>
    public static string DecidedBy(Draft d) =>
        $"{d.Decision} by {d.DecidedByName ?? "?"}" + (d.DecidedAt is { } at ? " at " + FormatTime(at) : "");

    /// <summary>
    /// A draft its agent withdrew (the pipe's <c>cancel</c>), said so in words of its own: the approver did not discard it,
    /// and an approval it had is not going to be executed.
    /// </summary>
    public static string Withdrawn(Draft d) =>
        $"🚫 Withdrawn by the agent at {FormatTime(d.StateSince)}" + (d.CancelReason is { } reason ? ": " + reason : "");

    /// <summary>
    /// A draft an approver marked done (✔️ Mark done on its unknown outcome): a person checked the target, no run
    /// succeeded, so the card says who and when rather than "Executed" with the time of the attempt that was cut off.
    /// A draft marked done before who did was kept names the approver by id, or nobody when the ledger named none (0).
    /// </summary>
    internal static string MarkedDone(Draft d, long by)
    {
        var who = d.MarkedDoneByName ?? (by == 0 ? "an approver" : by.ToString(CultureInfo.InvariantCulture));
        return $"✔️ Marked done by {who} at {FormatTime(d.StateSince)}";
    }

    private static string Detail(string? value) => string.IsNullOrWhiteSpace(value) ? "" : " · " + value;

    private static HtmlText Header(Draft d)
    {
        var h = new HtmlText()
            .Text("📝 ").Bold(d.Kind).Text(" from ").Bold(d.Agent).Line()
            .Text("ID: ").Code(d.Id).Text($" (#{d.Seq.ToString(CultureInfo.InvariantCulture)})");
        var (rationale, source, unreadable) = Context(d.ContextJson);
        if (unreadable)
        {
            h.Line().Italic("⚠️ The context of this draft cannot be shown: it holds text that is not valid Unicode.");
        }
        if (rationale is not null)
        {
            h.Line().Text("Why: ").Italic(HtmlText.Shorten(rationale, MaxRationale));
        }
        if (source is not null)
        {
            h.Line().Text("Source: ").Link(source, HtmlText.Shorten(source, MaxUrlLabel));
        }
        return h.Line().Text("SHA-256: ").Code(d.Sha256[..CallbackData.HashPrefixLength] + "…");
    }

    /// <summary>
    /// The context's rationale and source link. One that cannot be read (a string with an unpaired surrogate escape,
    /// stored before submit refused such text) is left off with a note: a throw here would fail the outbox's whole pass
    /// at this draft, the oldest pending, and no later draft would get a card.
    /// </summary>
    private static (string? Rationale, string? SourceUrl, bool Unreadable) Context(string? json)
    {
        if (json is null) return (null, null, false);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return (null, null, false);
            return (Str(doc.RootElement, "rationale"), Str(doc.RootElement, "source_url"), false);
        }
        catch (JsonException)
        {
            return (null, null, false);
        }
        catch (InvalidOperationException)
        {
            return (null, null, true);
        }

        static string? Str(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;
    }

    private static string FileName(Draft d)
    {
        var safe = new string([.. d.Id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);
        return HtmlText.Shorten(safe, 100).TrimEnd('…') + ".txt";
    }
}
