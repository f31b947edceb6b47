using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>Drafts awaiting a decision, oldest first: as many as fit one message, then how many more and where to see them all.</summary>
internal sealed class PendingCommand(DraftStore store) : ITelegramCommand
{
    private const int Shown = 25;

    // The CLI lists one state at a time; a draft awaiting a decision is pending (no card yet) or carded.
    private const string ListPending = "approvalctl list --state pending";
    private const string ListCarded = "approvalctl list --state carded";

    public string Name => "pending";

    public string Description => "Drafts awaiting a decision, oldest first";

    public string FullReplyHint => $"<code>{ListPending}</code> and <code>{ListCarded}</code> list them";

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var drafts = store.AwaitingDecision(Shown);
        if (drafts.Count == 0)
        {
            return Task.FromResult("Nothing awaits a decision.");
        }
        var total = drafts.Count < Shown ? drafts.Count : store.CountAwaitingDecision();
        var reply = new HtmlText().Bold("Awaiting a decision").Line();
        var shown = reply.AppendWhileFits(drafts.Select(Line));
        if (shown < total)
        {
            reply.Italic($"…and {(total - shown).ToString(CultureInfo.InvariantCulture)} more; {ListPending} and {ListCarded} list them.");
        }
        return Task.FromResult(reply.ToString());
    }

    private static HtmlText Line(Draft d)
    {
        var line = new HtmlText().Text("• ").Code(HtmlText.Shorten(d.Id, 120))
            .Text($" (#{d.Seq.ToString(CultureInfo.InvariantCulture)}) {d.Kind} from {d.Agent}, since {CardRenderer.FormatTime(d.StateSince)}");
        if (d.State == DraftState.Pending)
        {
            line.Text(d.CardError is null ? " · card not sent yet" : " · card failed: " + HtmlText.Shorten(d.CardError, 200));
        }
        return line.Line();
    }
}
