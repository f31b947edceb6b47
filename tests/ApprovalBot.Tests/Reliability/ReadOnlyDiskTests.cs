using System.Diagnostics;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The store's data directory turns read-only under the running host (as a filesystem remounted read-only after an
/// error), then writable again. See <see cref="ReadOnlyFilesystem"/> for how the fault is made on a real host process.
/// </summary>
public sealed class ReadOnlyDiskTests(ITestOutputHelper output)
{
    /// <summary>Longer than any answer of a healthy host: a request still unanswered then has hung.</summary>
    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(10);

    /// <summary>How long the host may take to notice by itself that the disk is writable again.</summary>
    private static readonly TimeSpan RecoverWithin = TimeSpan.FromSeconds(30);

    private static DraftSubmission Draft(string phase, int i) =>
        new() { Id = $"post:ro:{phase}:{i}", Kind = "post", Agent = "a", Text = $"{phase} {i} read-only disk ✓ " + new string((char)('a' + i % 26), 2500) };

    [Fact]
    public async Task Submit_DataDirectoryReadOnly_UnavailableAtOnceNothingHalfWrittenThenRecoversWhenWritableAgain()
    {
        using var data = new TempDirectory();
        using var filesystem = await ReadOnlyFilesystem.CreateAsync(data.Path);
        var store = new Ledger();
        var slowestRefusal = TimeSpan.Zero;
        var getsWhileReadOnly = new Dictionary<string, int>();
        Response resend;
        (TimeSpan Time, int Attempts) recovery;

        await using (var host = await HostProcess.StartAsync(data.Path, environment: filesystem.Environment))
        {
            Assert.True(host.HasLoaded(filesystem.ShimPath), "the read-only shim is not loaded in the host process");
            await using var client = await host.ConnectAsync();
            for (var i = 0; i < 10; i++)
            {
                await store.SubmitAcceptedAsync(client, Draft("before", i));
            }

            filesystem.MakeReadOnly();
            for (var i = 0; i < 20; i++)
            {
                var watch = Stopwatch.StartNew();
                await store.SubmitRefusedAsync(client, Draft("refused", i));
                slowestRefusal = watch.Elapsed > slowestRefusal ? watch.Elapsed : slowestRefusal;

                Assert.True((await AnswerAsync(client.PingAsync(), "ping while read-only")).Ok);
                var outcome = await store.GetWhileReadOnlyAsync(client, i);
                getsWhileReadOnly[outcome] = getsWhileReadOnly.GetValueOrDefault(outcome) + 1;
            }
            // A resend of a draft already stored needs no write: it may be answered with its receipt, or refused.
            resend = await AnswerAsync(client.SubmitAsync(Draft("before", 0)), "resend while read-only");
            if (resend.Ok)
            {
                var first = store.Received[Draft("before", 0).Id].Receipt;
                Assert.Equal((first.Id, first.Seq, first.Sha256, true), (resend.Receipt!.Id, resend.Receipt.Seq, resend.Receipt.Sha256, resend.Receipt.Duplicate));
            }
            else
            {
                Assert.Equal(ErrorCodes.Unavailable, resend.Error!.Code);
            }
            Assert.False(host.HasExited, "the host died while its data directory was read-only:\n" + host.Output);

            recovery = await store.RecoverWhenWritableAsync(filesystem, client, host);
        }

        var integrity = await store.AssertSurvivesRestartAsync(data.Path);

        output.WriteLine(
            $"receipts: {store.Received.Count} (10 before, 1 + 10 after); submits refused while read-only: {store.Refused.Count}, every " +
            $"one `unavailable`, slowest answer {slowestRefusal.TotalMilliseconds:F0} ms; ping answered throughout; gets while read-only: " +
            $"{string.Join(", ", getsWhileReadOnly.Select(g => $"{g.Key} {g.Value}"))}; resend of a stored draft while read-only: " +
            $"{(resend.Ok ? "its receipt (duplicate)" : resend.Error!.Code)}; recovered {recovery.Time.TotalMilliseconds:F0} ms after the " +
            $"disk became writable ({recovery.Attempts} submit attempts), without a restart; after kill -9 and restart: drafts lost 0, " +
            $"refused ids stored 0, integrity_check {integrity}");
    }

    /// <summary>
    /// Agents keep reading while the disk is read-only, so the host opens new database connections then; SQLite opens
    /// those read-only, for good. The writer must not end up on one of them once the disk is writable again.
    /// </summary>
    [Fact]
    public async Task Submit_ReadsOpenConnectionsWhileReadOnly_WriterStillRecoversWhenWritableAgain()
    {
        using var data = new TempDirectory();
        using var filesystem = await ReadOnlyFilesystem.CreateAsync(data.Path);
        var store = new Ledger();
        var database = Path.Combine(data.Path, "approvals.db");
        var reads = new Dictionary<string, int>();
        int bursts = 0, readOnlyConnections;
        (TimeSpan Time, int Attempts) recovery;

        await using (var host = await HostProcess.StartAsync(data.Path, environment: filesystem.Environment))
        {
            Assert.True(host.HasLoaded(filesystem.ShimPath), "the read-only shim is not loaded in the host process");
            await using var client = await host.ConnectAsync();
            // Enough text that a list of it takes a while to read, so concurrent lists overlap and need connections of their own.
            for (var i = 0; i < 200; i++)
            {
                await store.SubmitAcceptedAsync(client, Draft("before", i));
            }
            Assert.Equal(0, host.OpenedReadOnly(database));

            filesystem.MakeReadOnly();
            await store.SubmitRefusedAsync(client, Draft("refused", 0));
            var deadline = Stopwatch.StartNew();
            while ((readOnlyConnections = host.OpenedReadOnly(database)) == 0)
            {
                Assert.True(deadline.Elapsed < RecoverWithin, "concurrent reads never made the host open a connection while the disk was read-only");
                bursts++;
                foreach (var outcome in await ReadBurstAsync(host, agents: 16, listsEach: 4))
                {
                    reads[outcome] = reads.GetValueOrDefault(outcome) + 1;
                }
                await store.SubmitRefusedAsync(client, Draft("refused", bursts));
            }
            Assert.False(host.HasExited, "the host died while its data directory was read-only:\n" + host.Output);

            recovery = await store.RecoverWhenWritableAsync(filesystem, client, host);
        }

        var integrity = await store.AssertSurvivesRestartAsync(data.Path);

        output.WriteLine(
            $"receipts: {store.Received.Count}; {bursts} burst(s) of 16 agents x 4 lists while read-only ({string.Join(", ", reads.Select(r => $"{r.Key} {r.Value}"))}) " +
            $"made the host open {readOnlyConnections} connection(s) read-only; submits refused: {store.Refused.Count}; recovered " +
            $"{recovery.Time.TotalMilliseconds:F0} ms after the disk became writable ({recovery.Attempts} submit attempts); after kill -9 " +
            $"and restart: drafts lost 0, refused ids stored 0, integrity_check {integrity}");
    }

    /// <summary>
    /// The route did its work, then the disk turned read-only before the outcome could be written: the outcome is in
    /// the log with the draft's id at once, and recorded (executed, with the route's result) once the disk is writable
    /// again, without running the route a second time.
    /// </summary>
    [Fact]
    public async Task Execute_DiskReadOnlyBeforeTheOutcomeIsWritten_OutcomeLoggedThenRecordedOnceWritableNotRerun()
    {
        using var data = new TempDirectory();
        using var filesystem = await ReadOnlyFilesystem.CreateAsync(data.Path);
        using var route = new ApprovalBot.Tests.Execution.RouteScript("then-touch:" + filesystem.Marker);
        const string id = "reply:ro-exec", text = "posted, then the disk went read-only";
        string[] settings =
        [
            .. route.Settings("reply", idempotent: false),
            "ApprovalBot:Execution:IntervalSeconds=1",
            "ApprovalBot:Telegram:Token=1:test", "ApprovalBot:Telegram:ApiBaseUrl=http://127.0.0.1:9",
            "ApprovalBot:Telegram:ChatId=1", "ApprovalBot:Telegram:Approvers:0=1",
        ];
        await using var host = await HostProcess.StartAsync(data.Path, settings, filesystem.Environment);
        Assert.True(host.HasLoaded(filesystem.ShimPath), "the read-only shim is not loaded in the host process");
        await using var client = await host.ConnectAsync();
        Assert.True((await client.SubmitAsync(new DraftSubmission { Id = id, Kind = "reply", Agent = "a", Text = text })).Ok);

        DirectApproval.Approve(data.Path, id, Sha.Hex(text));
        await Eventually.TrueAsync(() => Task.FromResult(host.Output.Contains($"Draft {id} (reply): attempt 1 succeeded", StringComparison.Ordinal)),
            () => "the unrecorded outcome to be logged:\n" + host.Output, RecoverWithin);
        Assert.True(filesystem.IsReadOnly);
        filesystem.MakeWritable();
        DraftView? view = null;
        await Eventually.TrueAsync(async () => (view = (await client.GetAsync(id)).Draft!).State != States.Executing,
            () => "the draft to leave executing:\n" + host.Output, RecoverWithin);

        Assert.Contains($"attempt 1 succeeded (https://example.test/{id}) but the store could not record it", host.Output);
        Assert.Equal(States.Executed, view!.State);
        Assert.Equal($"https://example.test/{id}", view.Execution!.Result);
        Assert.Single(route.Runs());
        Assert.Single(route.Effects());
    }

    private static async Task<IEnumerable<string>> ReadBurstAsync(HostProcess host, int agents, int listsEach)
    {
        var outcomes = await Task.WhenAll(Enumerable.Range(0, agents).Select(async _ =>
        {
            await using var client = await host.ConnectAsync();
            var seen = new List<string>();
            for (var j = 0; j < listsEach; j++)
            {
                var list = await AnswerAsync(client.ListAsync(limit: 200), "list while read-only");
                Assert.True(list.Ok || list.Error!.Code == ErrorCodes.Unavailable, list.Error?.Message);
                seen.Add(list.Ok ? "ok" : list.Error!.Code);
            }
            return seen;
        }));
        return outcomes.SelectMany(o => o);
    }

    private static async Task<Response> AnswerAsync(Task<Response> request, string what)
    {
        try
        {
            return await request.WaitAsync(AnswerWithin);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what}: no answer within {AnswerWithin.TotalSeconds} s (hung)");
        }
    }

    /// <summary>The agents' own record: every receipt received with its text, every id refused.</summary>
    private sealed class Ledger
    {
        public Dictionary<string, (Receipt Receipt, string Text)> Received { get; } = [];

        public List<string> Refused { get; } = [];

        public async Task SubmitAcceptedAsync(PipeClient client, DraftSubmission draft)
        {
            var response = await AnswerAsync(client.SubmitAsync(draft), $"submit {draft.Id}");
            Assert.True(response.Ok, response.Error?.Message);
            Assert.Equal(Sha.Hex(draft.Text), response.Receipt!.Sha256);
            Received[draft.Id] = (response.Receipt, draft.Text);
        }

        public async Task SubmitRefusedAsync(PipeClient client, DraftSubmission draft)
        {
            var response = await AnswerAsync(client.SubmitAsync(draft), $"submit {draft.Id} while read-only");
            Assert.False(response.Ok, $"{draft.Id} got a receipt while the data directory was read-only");
            Assert.Equal(ErrorCodes.Unavailable, response.Error!.Code);
            Refused.Add(draft.Id);
        }

        /// <summary>A get of a stored draft while read-only: its right hash, or <c>unavailable</c>; returns which.</summary>
        public async Task<string> GetWhileReadOnlyAsync(PipeClient client, int i)
        {
            var (receipt, _) = Received.Values.ElementAt(i % Received.Count);
            var get = await AnswerAsync(client.GetAsync(receipt.Id), "get while read-only");
            if (!get.Ok)
            {
                Assert.Equal(ErrorCodes.Unavailable, get.Error!.Code);
                return get.Error.Code;
            }
            Assert.Equal(receipt.Sha256, get.Draft!.Sha256);
            return "ok";
        }

        /// <summary>
        /// Makes the disk writable again, then proves the host recovered by itself: a first receipt (timed), ten more,
        /// every receipt read back, no refused id stored; then kills the host with SIGKILL for the restart check.
        /// </summary>
        public async Task<(TimeSpan Time, int Attempts)> RecoverWhenWritableAsync(ReadOnlyFilesystem filesystem, PipeClient client, HostProcess host)
        {
            filesystem.MakeWritable();
            var recovery = await RecoverAsync(client, Draft("recovered", 0), host);
            for (var i = 0; i < 10; i++)
            {
                await SubmitAcceptedAsync(client, Draft("after", i));
            }
            await AssertReadableAsync(client);
            await AssertRefusedAbsentAsync(client);
            await host.KillAsync();
            return recovery;
        }

        /// <summary>Submits <paramref name="draft"/> until it gets a receipt (each refusal must be <c>unavailable</c>) or the deadline.</summary>
        private async Task<(TimeSpan Time, int Attempts)> RecoverAsync(PipeClient client, DraftSubmission draft, HostProcess host)
        {
            var since = Stopwatch.StartNew();
            for (var attempt = 1; ; attempt++)
            {
                var response = await AnswerAsync(client.SubmitAsync(draft), "submit after the disk became writable");
                if (response.Ok)
                {
                    Assert.Equal(Sha.Hex(draft.Text), response.Receipt!.Sha256);
                    Received[draft.Id] = (response.Receipt, draft.Text);
                    return (since.Elapsed, attempt);
                }
                Assert.Equal(ErrorCodes.Unavailable, response.Error!.Code);
                Assert.True(since.Elapsed < RecoverWithin,
                    $"still unavailable {RecoverWithin.TotalSeconds} s ({attempt} attempts) after the disk became writable again, without a restart:\n{LastLines(host.Output, 40)}");
                await Task.Delay(50); // the poll interval of the answer we wait for, not a wait for the host
            }
        }

        /// <summary>Every receipt read back through the running host (its pooled read connections included) with its hash.</summary>
        public async Task AssertReadableAsync(PipeClient client)
        {
            foreach (var (id, (receipt, _)) in Received)
            {
                var get = await AnswerAsync(client.GetAsync(id), "get after recovery");
                Assert.True(get.Ok, $"{id}: {get.Error?.Code} {get.Error?.Message}");
                Assert.Equal((receipt.Sha256, receipt.Seq), (get.Draft!.Sha256, get.Draft.Seq));
            }
        }

        public async Task AssertRefusedAbsentAsync(PipeClient client)
        {
            foreach (var id in Refused)
            {
                Assert.Equal(ErrorCodes.NotFound, (await AnswerAsync(client.GetAsync(id), "get of a refused id")).Error?.Code);
            }
        }

        /// <summary>
        /// Restarts the host (without the shim) on the data directory after the kill -9, checks every receipt through the
        /// pipe, then the files themselves once it has stopped; returns <c>PRAGMA integrity_check</c>.
        /// </summary>
        public async Task<string> AssertSurvivesRestartAsync(string dataDirectory)
        {
            await using (var restarted = await HostProcess.StartAsync(dataDirectory))
            {
                await using var reader = await restarted.ConnectAsync();
                foreach (var (id, (receipt, text)) in Received)
                {
                    var stored = (await AnswerAsync(reader.GetAsync(id), "get after kill -9 and restart")).Draft;
                    Assert.NotNull(stored);
                    Assert.Equal((text, receipt.Sha256, receipt.Seq), (stored.Text, stored.Sha256, stored.Seq));
                }
                await AssertRefusedAbsentAsync(reader);
                await restarted.KillAsync();
            }

            using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Mode=ReadOnly;Pooling=False");
            connection.Open();
            var integrity = Strings(connection, "PRAGMA integrity_check").Single();
            Assert.Equal("ok", integrity);
            var drafts = new Dictionary<string, (string Text, string Sha256)>();
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "SELECT id, text, sha256 FROM drafts";
                using var rows = cmd.ExecuteReader();
                while (rows.Read())
                {
                    drafts.Add(rows.GetString(0), (rows.GetString(1), rows.GetString(2)));
                }
            }
            // Exactly the drafts whose receipts were given, each with its text and hash, and one ledger event for each.
            Assert.Equal(Received.Keys.Order(StringComparer.Ordinal), drafts.Keys.Order(StringComparer.Ordinal));
            foreach (var (id, (receipt, text)) in Received)
            {
                Assert.Equal((text, receipt.Sha256), drafts[id]);
            }
            Assert.Equal(Received.Keys.Order(StringComparer.Ordinal), Strings(connection, "SELECT draft_id FROM events WHERE type = 'submitted'").Order(StringComparer.Ordinal));
            return integrity;
        }

        private static List<string> Strings(SqliteConnection connection, string sql)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = sql;
            using var rows = cmd.ExecuteReader();
            var values = new List<string>();
            while (rows.Read())
            {
                values.Add(rows.GetString(0));
            }
            return values;
        }

        private static string LastLines(string text, int count) =>
            string.Join('\n', text.Split('\n').TakeLast(count));
    }
}
