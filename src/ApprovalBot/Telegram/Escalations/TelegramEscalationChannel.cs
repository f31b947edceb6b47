using System.Globalization;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Escalations;

/// <summary>
/// Escalations as HTML messages in the approvers' chat: each gap with its draft id, what is wrong, since
/// when and the detail, and a row of action buttons bound to the draft's seq and text hash. Gaps that do
/// not fit one message continue in the next; the call returns once all are delivered, and throws if one was not.
/// </summary>
internal sealed class TelegramEscalationChannel(TelegramBotClient client, TelegramChat chat) : IEscalationChannel
{
    // Room for the title and a continuation marker below Telegram's 4096.
    private const int Budget = HtmlText.MaxMessageLength - 300;
    private const int MaxDetail = 800;
    private const int MaxButtonsPerMessage = 90;

    public async Task SendAsync(Escalation escalation, CancellationToken cancellationToken)
    {
        var messages = Render(escalation);
        for (var i = 0; i < messages.Count; i++)
        {
            var (html, buttons) = messages[i];
            await chat.SendAsync(chatId => client.SendMessage(new SendMessageRequest
            {
                ChatId = chatId,
                Text = html,
                ParseMode = ParseMode.Html,
                ReplyMarkup = buttons.Count == 0 ? null : new InlineKeyboardMarkup(buttons),
                LinkPreviewOptions = new LinkPreviewOptions(IsDisabled: true),
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
    }

    public static List<(string Html, List<IReadOnlyList<InlineKeyboardButton>> Buttons)> Render(Escalation escalation)
    {
        var messages = new List<(string, List<IReadOnlyList<InlineKeyboardButton>>)>();
        var body = new HtmlText();
        var buttons = new List<IReadOnlyList<InlineKeyboardButton>>();
        var part = 1;
        foreach (var gap in escalation.Gaps)
        {
            var block = Block(gap);
            var row = Buttons(gap);
            if (body.PlainLength > 0 && (body.PlainLength + block.PlainLength > Budget || buttons.Count + 1 > MaxButtonsPerMessage / 3))
            {
                messages.Add((Title(escalation, part++).Append(body).ToString(), buttons));
                body = new HtmlText();
                buttons = [];
            }
            body.Append(block);
            if (row.Count > 0)
            {
                buttons.Add(row);
            }
        }
        if (body.PlainLength > 0 || messages.Count == 0)
        {
            messages.Add((Title(escalation, messages.Count == 0 ? 0 : part).Append(body).ToString(), buttons));
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
        return block.Text(HtmlText.Shorten(gap.Detail, MaxDetail)).Line();
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
}
