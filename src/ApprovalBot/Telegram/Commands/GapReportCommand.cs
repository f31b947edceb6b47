using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>/orphans and /stale: the reconciler's reports on demand, approvers only. An empty report says so.</summary>
internal abstract class GapReportCommand(GapFinder finder, string report, string empty) : ITelegramCommand
{
    public string Name => report;

    public abstract string Description { get; }

    public string FullReplyHint => $"<code>approvalctl {report}</code> lists them";

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var gaps = finder.Find(report);
        if (gaps.Count == 0)
        {
            return Task.FromResult(empty);
        }
        // A class past the report's limit ends in one item saying how many more it has: those count in the total, and
        // the item goes first, so the message's length cannot cut the only mention of them.
        var total = gaps.Sum(g => g.NotListed ?? 1);
        var lines = gaps.Where(g => g.NotListed is not null).Concat(gaps.Where(g => g.NotListed is null)).ToList();
        var reply = new HtmlText().Bold($"{total} {report}").Line();
        var shown = reply.AppendWhileFits(lines.Select(Line));
        if (shown < lines.Count)
        {
            reply.Italic($"…and {lines.Count - shown} more; approvalctl {report} lists them.");
        }
        return Task.FromResult(reply.ToString());
    }

    // A line per gap, short enough for a screenful; the middle of a long detail goes (an unknown run's error keeps its
    // last stderr line and what to do, which come at the end).
    private const int MaxDetail = 240;

    private static HtmlText Line(Gap gap)
    {
        var line = new HtmlText().Text("• ").Bold(gap.Name).Text(" ");
        if (gap.DraftId is not null)
        {
            line.Code(HtmlText.Shorten(gap.DraftId, 120)).Text($" ({gap.State}) ");
        }
        return line.Text($"since {CardRenderer.FormatTime(gap.Since)}: {HtmlText.ShortenMiddle(gap.Detail, MaxDetail)}").Line();
    }
}

internal sealed class OrphansCommand(GapFinder finder)
    : GapReportCommand(finder, Gaps.Orphans, "No orphans: every approval has its text, every card was delivered, every approved draft has a taker.")
{
    public override string Description => "Gaps: missing or changed texts, undelivered cards, approvals nobody picks up";
}

internal sealed class StaleCommand(GapFinder finder)
    : GapReportCommand(finder, Gaps.Stale, "Nothing stale: no decision waits too long, no approval is stuck, no execution waits for you.")
{
    public override string Description => "Decisions waiting too long, stuck approvals, failed executions";
}
