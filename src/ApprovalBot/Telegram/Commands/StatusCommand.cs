using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>One draft's state, decision and execution, by id (or #seq).</summary>
internal sealed class StatusCommand(DraftStore store) : ITelegramCommand
{
    public string Name => "status";

    public string Description => "Show one draft: /status <id>";

    public string FullReplyHint => "<code>approvalctl get &lt;id&gt;</code> shows it in full";

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var key = context.Arguments.Trim();
        if (key.Length == 0)
        {
            return Task.FromResult("Usage: /status &lt;id&gt; (or /status #seq)");
        }
        if (DraftLookup.Find(store, key) is not { } draft)
        {
            return Task.FromResult(DraftLookup.NotFound(key));
        }
        var r = new HtmlText()
            .Code(HtmlText.Shorten(draft.Id, 200)).Text($" (#{draft.Seq.ToString(CultureInfo.InvariantCulture)})").Line()
            .Text("State: ").Bold(draft.State.ToWire()).Text(" since " + CardRenderer.FormatTime(draft.StateSince)).Line()
            .Text($"Kind: {draft.Kind} · agent: {draft.Agent}").Line()
            .Text("SHA-256: ").Code(draft.Sha256).Line()
            .Text(draft.Text is null ? "⚠️ Text missing from the store" : $"Text: {draft.Text.Length.ToString(CultureInfo.InvariantCulture)} characters").Line();
        var seq = draft.Seq.ToString(CultureInfo.InvariantCulture);
        r.Text(draft.CardMessageId is { } m
            ? $"Card: message {m.ToString(CultureInfo.InvariantCulture)}" + (draft.State == DraftState.Carded ? $" (gone from the chat? /card #{seq} sends it again)" : "")
            : draft.State == DraftState.Carded || draft.CardChatId is not null
                // Sent, but Telegram's answer could not be read (card_unconfirmed): most likely in the chat, its message id unknown.
                // Also after a decision: a card following its group to a supergroup, or a draft that left carded so.
                ? $"Card: no message on record{(draft.CardError is null ? "" : ": " + HtmlText.Shorten(draft.CardError, 400))}" +
                    (draft.State == DraftState.Carded ? $" (/card #{seq} sends one that is recorded)" : "")
                : $"Card: not delivered ({draft.CardAttempts.ToString(CultureInfo.InvariantCulture)} attempts{(draft.CardError is null ? "" : ", last error: " + HtmlText.Shorten(draft.CardError, 300))})").Line();
        if (draft.Decision is not null)
        {
            r.Text($"Decision: {draft.Decision} by {draft.DecidedByName ?? "?"}" + (draft.DecidedAt is { } at ? " at " + CardRenderer.FormatTime(at) : "")).Line();
        }
        if (draft.WithdrawnByAgent)
        {
            r.Text(HtmlText.Shorten(CardRenderer.Withdrawn(draft), 700)).Line();
        }
        if (draft.MarkedDoneBy is { } by)
        {
            // No run succeeded: the execution line below is the attempt that was cut off, and a person settled it.
            r.Text(HtmlText.Shorten(CardRenderer.MarkedDone(draft, by), 300)).Line();
        }
        if (draft.ExecAttempts > 0 || draft.ExecResult is not null || draft.ExecError is not null)
        {
            r.Text($"Execution: {draft.ExecAttempts.ToString(CultureInfo.InvariantCulture)} attempts")
                .Text(draft.ExecResult is null ? "" : " · result: " + HtmlText.Shorten(draft.ExecResult, 300))
                .Text(draft.ExecError is null ? "" : " · error: " + HtmlText.Shorten(draft.ExecError, 300)).Line();
        }
        return Task.FromResult(r.ToString());
    }
}
