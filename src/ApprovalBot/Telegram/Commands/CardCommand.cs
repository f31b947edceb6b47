using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>
/// /card &lt;id&gt;: sends the card of a draft awaiting a decision again, as the Resend card button of its
/// <c>awaiting_decision</c> escalation does, but at any time (a card deleted in the chat, or scrolled out of reach, before
/// the kind's StaleAfter). Approvers only, in the approvers' chat, like every command but /start.
/// </summary>
internal sealed class CardCommand(DraftStore store, CardResender resender) : ITelegramCommand
{
    public string Name => "card";

    public string Description => "Send a draft's card again: /card <id>";

    public async Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var key = context.Arguments.Trim();
        if (key.Length == 0)
        {
            return "Usage: /card &lt;id&gt; (or /card #seq): sends the card of a draft awaiting a decision again. /pending lists them.";
        }
        if (DraftLookup.Find(store, key) is not { } draft)
        {
            return DraftLookup.NotFound(key);
        }
        // The reply goes out after the card, so the card is above it.
        var outcome = await resender.ResendAsync(draft, new ResendRequest(context.From, Command: context.Message), cancellationToken).ConfigureAwait(false);
        return HtmlText.Escape(outcome.Answer("above"));
    }
}
