using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>Drafts awaiting a decision, oldest first.</summary>
internal sealed class PendingCommand(DraftStore store) : ITelegramCommand
{
    private const int Shown = 25;

    public string Name => "pending";

    public string Description => "Drafts awaiting a decision, oldest first";

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var drafts = store.AwaitingDecision(Shown + 1);
        if (drafts.Count == 0)
        {
            return Task.FromResult("Nothing awaits a decision.");
        }
        var reply = new HtmlText().Bold("Awaiting a decision").Line();
        foreach (var d in drafts.Take(Shown))
        {
            reply.Text("• ").Code(HtmlText.Shorten(d.Id, 120)).Text($" (#{d.Seq.ToString(CultureInfo.InvariantCulture)}) {d.Kind} from {d.Agent}, since {CardRenderer.FormatTime(d.StateSince)}");
            if (d.State == DraftState.Pending)
            {
                reply.Text(d.CardError is null ? " · card not sent yet" : " · card failed: " + HtmlText.Shorten(d.CardError, 200));
            }
            reply.Line();
        }
        if (drafts.Count > Shown)
        {
            reply.Italic($"…and more; /status <id> shows one.");
        }
        return Task.FromResult(reply.ToString());
    }
}
