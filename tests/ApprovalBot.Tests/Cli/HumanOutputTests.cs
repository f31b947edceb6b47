using ApprovalBot.Cli;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Cli;

public sealed class HumanOutputTests
{
    private static readonly DateTimeOffset At = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void Receipt_Duplicate_SaysSo()
    {
        var line = HumanOutput.Receipt(new Receipt("reply:x", 42, "ab12", "pending", Duplicate: true));

        Assert.Equal("stored reply:x seq 42 sha256 ab12 state pending (duplicate)", line);
    }

    [Fact]
    public void DraftTable_Empty_SaysNoDrafts()
    {
        Assert.Equal("No drafts.", HumanOutput.DraftTable([]));
    }

    [Fact]
    public void DraftTable_Drafts_AlignsColumns()
    {
        var table = HumanOutput.DraftTable(
        [
            new DraftView { Id = "a", Kind = "reply", Agent = "bot", Sha256 = "00", State = "pending", CreatedAt = At },
            new DraftView { Id = "longer-id", Kind = "post", Agent = "bot", Sha256 = "00", State = "approved", CreatedAt = At },
        ]);

        var lines = table.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("ID         STATE     KIND   AGENT  CREATED", lines[0]);
        Assert.Equal("longer-id  approved  post   bot    2025-01-02 03:04:05Z", lines[2]);
    }

    [Theory]
    [InlineData("orphans", "No orphans.")]
    [InlineData("stale", "Nothing stale.")]
    public void ReportTable_Empty_SaysNothingFound(string name, string expected)
    {
        Assert.Equal(expected, HumanOutput.ReportTable(new Report(name, [])));
    }

    [Fact]
    public void ReportTable_MultiLineDetail_StaysOneRowPerItem()
    {
        var table = HumanOutput.ReportTable(new Report("orphans", [new ReportItem("x", "text_missing", "approved", At, "line one\nline two")]));

        Assert.Equal(2, table.Split('\n').Length);
        Assert.Contains("line one line two", table);
    }

    [Fact]
    public void Draft_MarkedDone_RowSaysByWhomBesideTheExecution()
    {
        var text = HumanOutput.Draft(new DraftView
        {
            Id = "x", Kind = "reply", Agent = "bot", Sha256 = "00", State = "executed", Text = "t",
            Execution = new ExecutionView(1, "ab1-k", null, "timed out", At) { MarkedDone = new MarkedDoneView(1001, "Alice", At.AddMinutes(5)) },
        });

        Assert.Matches(@"(?m)^execution +1 attempt\(s\), last 2025-01-02 03:04:05Z, error timed out$", text);
        Assert.Matches(@"(?m)^marked done +by Alice \(1001\) at 2025-01-02 03:09:05Z: the approver checked the target; no run recorded it$", text);
    }

    [Fact]
    public void Draft_MissingText_SaysSo()
    {
        var text = HumanOutput.Draft(new DraftView { Id = "x", Kind = "reply", Agent = "bot", Sha256 = "00", State = "blocked", Text = null });

        Assert.Contains("(text missing from the store)", text);
        Assert.Matches(@"(?m)^state +blocked$", text);
    }

    [Fact]
    public void Draft_ContextLeftOut_SaysWhy()
    {
        var text = HumanOutput.Draft(new DraftView { Id = "x", Kind = "reply", Agent = "bot", Sha256 = "00", State = "pending", Text = "t", ContextError = "cannot be written; left out" });

        Assert.Matches(@"(?m)^context +\(cannot be written; left out\)$", text);
    }

    [Fact]
    public void NextPage_FiltersAsGiven_SameCommandFromTheLastSeq()
    {
        var line = HumanOutput.NextPage(new ListRequest { State = "carded", Kind = "reply", Limit = 20 }, 1234, pipe: null);

        Assert.Equal("more: approvalctl list --state carded --kind reply --limit 20 --before 1234", line);
    }

    [Fact]
    public void NextPage_NoFilters_OnlyBefore()
    {
        Assert.Equal("more: approvalctl list --before 7", HumanOutput.NextPage(new ListRequest(), 7, pipe: null));
    }

    [Fact]
    public void NextPage_ValuesAShellWouldSplitOrExpand_QuotedToPasteAsOneWordEach()
    {
        var line = HumanOutput.NextPage(new ListRequest { Kind = "it's $HOME" }, 9, pipe: "/tmp/my pipes/a.sock");

        Assert.Equal("""more: approvalctl list --kind 'it'\''s $HOME' --before 9 --pipe '/tmp/my pipes/a.sock'""", line);
    }

    [Fact]
    public void NextPage_ValueWithALineBreak_StillOneLine()
    {
        var line = HumanOutput.NextPage(new ListRequest { Kind = "a\nb" }, 9, pipe: null);

        Assert.Equal("""more: approvalctl list --kind 'a\nb' --before 9""", line);
    }
}
