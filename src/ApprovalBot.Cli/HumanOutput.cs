using System.Globalization;
using System.Text;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>The human-readable renderings. Terse and stable enough to grep; scripts should prefer --json.</summary>
internal static class HumanOutput
{
    public static string Receipt(Receipt receipt) =>
        $"stored {receipt.Id} seq {receipt.Seq} sha256 {receipt.Sha256} state {receipt.State}" + (receipt.Duplicate ? " (duplicate)" : "");

    public static string Draft(DraftView draft)
    {
        var rows = new List<(string, string)>
        {
            ("id", draft.Id),
            ("state", draft.State),
            ("kind", draft.Kind),
            ("agent", draft.Agent),
            ("seq", draft.Seq.ToString(CultureInfo.InvariantCulture)),
            ("sha256", draft.Sha256),
            ("created", Time(draft.CreatedAt)),
            ("updated", Time(draft.UpdatedAt)),
        };
        if (draft.Card is { } card)
        {
            rows.Add(("card", card.MessageId is { } messageId
                ? $"message {messageId} in chat {card.ChatId}, {card.Attempts} attempt(s)"
                : $"not delivered, {card.Attempts} attempt(s)" + (card.Error is { } cardError ? $": {cardError}" : "")));
        }
        if (draft.Decision is { } decision)
        {
            var by = decision.ByName is { Length: > 0 } name ? $"{name} ({decision.By})" : decision.By.ToString(CultureInfo.InvariantCulture);
            rows.Add(("decision", $"{decision.Outcome} by {by} at {Time(decision.At)} on sha256 {decision.Sha256}"));
        }
        if (draft.Execution is { } execution)
        {
            var line = new StringBuilder($"{execution.Attempts} attempt(s)");
            if (execution.At is { } at) line.Append(CultureInfo.InvariantCulture, $", last {Time(at)}");
            if (execution.Result is { } result) line.Append(CultureInfo.InvariantCulture, $", result {result}");
            if (execution.Error is { } error) line.Append(CultureInfo.InvariantCulture, $", error {error}");
            rows.Add(("execution", line.ToString()));
            if (execution.MarkedDone is { } done)
            {
                var by = done.ByName is { Length: > 0 } name ? $"{name} ({done.By})" : done.By.ToString(CultureInfo.InvariantCulture);
                rows.Add(("marked done", $"by {by} at {Time(done.At)}: the approver checked the target; no run recorded it"));
            }
        }
        if (draft.Cancellation is { } cancellation)
        {
            rows.Add(("cancelled", $"by the {cancellation.By} at {Time(cancellation.At)}" + (cancellation.Reason is { } reason ? $": {reason}" : "")));
        }
        if (draft.Context is { } context)
        {
            rows.Add(("context", context.GetRawText()));
        }
        else if (draft.ContextError is { } contextError)
        {
            rows.Add(("context", "(" + contextError + ")"));
        }

        var width = rows.Max(r => r.Item1.Length) + 2;
        var text = new StringBuilder();
        foreach (var (key, value) in rows)
        {
            text.Append(key.PadRight(width)).Append(value).Append('\n');
        }
        // A missing text is itself a gap the reconciler reports; say so instead of printing nothing.
        text.Append('\n').Append(draft.Text ?? "(text missing from the store)");
        return text.ToString();
    }

    public static string DraftTable(IReadOnlyList<DraftView> drafts) => drafts.Count == 0
        ? "No drafts."
        : Table(["ID", "STATE", "KIND", "AGENT", "CREATED"],
            drafts.Select(d => new[] { d.Id, d.State, d.Kind, d.Agent, Time(d.CreatedAt) }));

    /// <summary>
    /// The <c>more:</c> line after a full page of <c>list</c>: the command that lists the next one, with this one's
    /// filters and <c>--before</c> the page's last seq, each word quoted for a POSIX shell so it can be pasted.
    /// </summary>
    public static string NextPage(ListRequest request, long nextBefore, string? pipe)
    {
        var words = new List<string> { "approvalctl", "list" };
        if (request.State is { } state) words.AddRange(["--state", state]);
        if (request.Kind is { } kind) words.AddRange(["--kind", kind]);
        if (request.Limit is { } limit) words.AddRange(["--limit", limit.ToString(CultureInfo.InvariantCulture)]);
        words.AddRange(["--before", nextBefore.ToString(CultureInfo.InvariantCulture)]);
        // A pipe named on the command line is needed again; one from $APPROVALBOT_PIPE is still set.
        if (pipe is { Length: > 0 }) words.AddRange(["--pipe", pipe]);
        return "more: " + ErrorText.OneLine(string.Join(' ', words.Select(ShellWord.Quote)));
    }

    public static string ReportTable(Report report) => report.Items.Count == 0
        ? (report.Name == "stale" ? "Nothing stale." : report.Name == "orphans" ? "No orphans." : $"Nothing in {report.Name}.")
        : Table(["DRAFT", "GAP", "STATE", "SINCE", "DETAIL"],
            report.Items.Select(i => new[] { i.DraftId ?? "-", i.Gap, i.State ?? "-", Time(i.Since), i.Detail }));

    public static string Time(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Left-aligned columns separated by two spaces; the last column is not padded.</summary>
    private static string Table(string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows.Select(r => r.Select(OneLine).ToArray()));
        var widths = new int[header.Length];
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        }
        var text = new StringBuilder();
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++)
            {
                text.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }
            text.Append('\n');
        }
        return text.ToString(0, text.Length - 1);
    }

    // A newline inside a cell would break the table's one-row-per-line promise.
    private static string OneLine(string value) => value.ReplaceLineEndings(" ");
}
