using System.Globalization;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Escalations;

/// <summary>
/// Escalations as HTML messages in the approvers' chat: each gap with its draft id, what is wrong, since
/// when and the detail, and a row of action buttons bound to the draft's seq and text hash. Gaps that do
/// not fit one message continue in the next; each message the chat takes is reported to the caller, which records its
/// gaps as delivered before the next goes, so a retry after a later message failed sends only what the chat did not get.
/// A message Telegram took but whose answer could not be read is counted as delivered (it most likely is in the chat, and
/// sending it again would post it twice): logged at Warning, and its gaps are reminded on the usual schedule. One the chat
/// refused (the bot blocked or removed) leaves the escalations waiting on the chat (<see cref="WaitsOnChat"/>), and
/// Telegram's word that the bot is back wakes them (<see cref="EscalationsOnReadmission"/>).
/// </summary>
internal sealed partial class TelegramEscalationChannel(TelegramBotClient client, TelegramChat chat, ILogger<TelegramEscalationChannel> logger) : IEscalationChannel
{
    // Room for the title and a continuation marker below Telegram's 4096.
    private const int Budget = HtmlText.MaxMessageLength - 300;
    private const int MaxDetail = 800;
    private const int MaxButtonsPerMessage = 90;

    // 1 while the last escalation message the chat answered was refused by it (403, "chat not found", no right to post).
    private int _waitsOnChat;

    /// <summary>True while escalations failed because the chat refuses the bot, until one gets through.</summary>
    public bool WaitsOnChat => Volatile.Read(ref _waitsOnChat) == 1;

    /// <summary>One message of an escalation, and the gaps it carries.</summary>
    internal sealed record Part(string Html, List<IReadOnlyList<InlineKeyboardButton>> Buttons, IReadOnlyList<EscalatedGap> Gaps);

    public async Task SendAsync(Escalation escalation, Func<IReadOnlyList<EscalatedGap>, Task> delivered, CancellationToken cancellationToken)
    {
        var parts = RenderParts(escalation);
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            try
            {
                await chat.SendAsync(chatId => client.SendMessage(new SendMessageRequest
                {
                    ChatId = chatId,
                    Text = part.Html,
                    ParseMode = ParseMode.Html,
                    ReplyMarkup = part.Buttons.Count == 0 ? null : new InlineKeyboardMarkup(part.Buttons),
                    LinkPreviewOptions = new LinkPreviewOptions(IsDisabled: true),
                }, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.OutcomeUnknown)
            {
                LogDeliveredUnread(i + 1, parts.Count, part.Gaps.Count, ex.Description);
            }
            catch (ApiRequestException ex) when (ex.IsChatRefused)
            {
                Volatile.Write(ref _waitsOnChat, 1);
                throw;
            }
            Volatile.Write(ref _waitsOnChat, 0);
            await delivered(part.Gaps).ConfigureAwait(false);
        }
    }

    public static List<Part> RenderParts(Escalation escalation)
    {
        var messages = new List<Part>();
        var body = new HtmlText();
        var buttons = new List<IReadOnlyList<InlineKeyboardButton>>();
        var gaps = new List<EscalatedGap>();
        var part = 1;
        foreach (var gap in escalation.Gaps)
        {
            var block = Block(gap);
            var row = Buttons(gap);
            if (body.PlainLength > 0 && (body.PlainLength + block.PlainLength > Budget || buttons.Count + 1 > MaxButtonsPerMessage / 3))
            {
                messages.Add(new Part(Title(escalation, part++).Append(body).ToString(), buttons, gaps));
                body = new HtmlText();
                buttons = [];
                gaps = [];
            }
            body.Append(block);
            gaps.Add(gap);
            if (row.Count > 0)
            {
                buttons.Add(row);
            }
        }
        if (body.PlainLength > 0 || messages.Count == 0)
        {
            messages.Add(new Part(Title(escalation, messages.Count == 0 ? 0 : part).Append(body).ToString(), buttons, gaps));
        }
        return messages;
    }

    private static HtmlText Title(Escalation escalation, int part) =>
        new HtmlText().Bold("🚨 " + HtmlText.Shorten(escalation.Title, 200) + (part > 1 ? $" (part {part.ToString(CultureInfo.InvariantCulture)})" : "")).Line();

    private static HtmlText Block(EscalatedGap gap)
    {
        var block = new HtmlText().Line();
        block.Text(gap.Reminder ? "🔔 Reminder · " : "• ").Bold(gap.Gap);
        block.Text(" · ").Code(gap switch
        {
            { NotListed: { } more } => $"({more.ToString("N0", CultureInfo.InvariantCulture)} not listed)",
            { DraftId: null } => "(no draft in the store)",
            _ => HtmlText.Shorten(gap.DraftId, 200),
        });
        if (gap.DraftSeq is { } seq)
        {
            block.Text($" (#{seq.ToString(CultureInfo.InvariantCulture)})");
        }
        block.Line().Text("since " + CardRenderer.FormatTime(gap.Since)).Line();
        return block.Text(HtmlText.ShortenMiddle(gap.Detail, MaxDetail)).Line();
    }

    private static List<InlineKeyboardButton> Buttons(EscalatedGap gap)
    {
        if (gap.EventId is { } eventId && gap.Actions.Contains(ApproverAction.Dismiss))
        {
            // A stray tap names no draft: its one button acknowledges the event.
            return [new InlineKeyboardButton($"👌 Dismiss stray tap {eventId.ToString(CultureInfo.InvariantCulture)}")
            {
                CallbackData = CallbackData.For(CallbackAction.Dismiss, eventId, GapDismissals.Binding(eventId)).ToString(),
            }];
        }
        if (gap.DraftSeq is not { } seq || gap.DraftSha256 is not { Length: >= CallbackData.HashPrefixLength } sha || gap.Actions.Count == 0)
        {
            return [];
        }
        var label = "#" + seq.ToString(CultureInfo.InvariantCulture);
        // Retry and Mark done answer the outcome this message reports: bound to when the draft entered its state, so a
        // tap that arrives after the draft was retried and ended up there again (delivered twice, or a second approver's)
        // changes nothing. Discard is not bound: it runs nothing, and an approved draft re-enters its state at every attempt.
        var since = gap.StateSince is { } at ? at.ToUnixTimeMilliseconds() : (long?)null;
        return [.. gap.Actions.Distinct().Select(action => action switch
        {
            ApproverAction.Retry => new InlineKeyboardButton($"🔁 Retry {label}") { CallbackData = (CallbackData.For(CallbackAction.Retry, seq, sha) with { StateSinceMs = since }).ToString() },
            ApproverAction.Discard => new InlineKeyboardButton($"🗑 Discard {label}") { CallbackData = CallbackData.For(CallbackAction.Discard, seq, sha).ToString() },
            ApproverAction.MarkDone => new InlineKeyboardButton($"✔️ Mark done {label}") { CallbackData = (CallbackData.For(CallbackAction.MarkDone, seq, sha) with { StateSinceMs = since }).ToString() },
            ApproverAction.ResendCard => new InlineKeyboardButton($"🔁 Resend card {label}") { CallbackData = CallbackData.For(CallbackAction.ResendCard, seq, sha).ToString() },
            ApproverAction.Dismiss => throw new ArgumentOutOfRangeException(nameof(gap), action, "Dismiss applies to a gap with an event, not a draft"),
            _ => throw new ArgumentOutOfRangeException(nameof(gap), action, null),
        })];
    }

    [LoggerMessage(Level = LogLevel.Warning, EventName = "EscalationAnswerUnreadable",
        Message = "Escalation message {Part} of {Parts} ({Gaps} gap(s)) reached Telegram but its answer was lost or could not be read ({Description}); " +
        "counted as delivered rather than sent again, which could post it twice. Its gaps are reminded on the usual schedule while open; " +
        "approvalctl orphans and approvalctl stale list them meanwhile")]
    private partial void LogDeliveredUnread(int part, int parts, int gaps, string description);
}
