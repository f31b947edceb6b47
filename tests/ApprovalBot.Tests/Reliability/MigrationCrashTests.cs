using System.Diagnostics;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// A newer build's first start upgrades the schema (README "The store": one transaction per step). Here the real host
/// starts on a store an older build left, and is killed with SIGKILL at each durability point of the upgrade in turn
/// (<see cref="CrashPoints"/>); each time the next start must finish the upgrade and lose or change no draft.
/// </summary>
public sealed class MigrationCrashTests(ITestOutputHelper output)
{
    /// <summary>
    /// The schema of the store the older build left. The steps after it rewrite rows (10: escalations' keys; 11: a column
    /// added and filled from the ledger) and build an index (12), each in a transaction of its own. Each step more is one
    /// sync point, and two starts of the host, more.
    /// </summary>
    private const int OldVersion = 9;

    /// <summary>A real bot's settings with a Bot API nobody answers: no sandbox to start, and the drafts' cards stay as they are.</summary>
    [Fact]
    public async Task Start_KilledAtEachSyncPointOfTheUpgrade_NextStartFinishesItEveryDraftUnchanged()
    {
        using var work = new TempDirectory();
        var old = work.Combine("old");
        var lastOldEvent = OldStore.Create(old);
        // What this build makes of the old store when nothing interrupts it.
        var clean = work.Combine("clean");
        CopyStore(old, clean);
        using (var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = clean })))
        {
            database.Initialize();
        }
        var expected = Contents(Path.Combine(clean, "approvals.db"), lastOldEvent);
        Assert.Equal(SchemaMigrations.Latest, expected.Version);
        Assert.Equal(OldStore.Drafts, expected.Drafts.Count);

        var data = work.Combine("data");
        using var points = await CrashPoints.CreateAsync(data, data + "/approvals.db*");
        CopyStore(old, data);
        await using (var dry = await HostProcess.StartAsync(data, OfflineBot.Settings, points.Environment()))
        {
            await dry.KillAsync();
        }
        // The upgrade's points end with the checkpoint that folds them into approvals.db, the first sync of that file: a
        // store this small never checkpoints before. What the started service writes afterwards is not the upgrade.
        var upgrade = points.Taken().TakeWhile(p => !p.EndsWith($" fsync {data}/approvals.db", StringComparison.Ordinal)).Count() + 1;
        Assert.True(upgrade > SchemaMigrations.Latest - OldVersion, "the upgrade passed fewer sync points than it has steps:\n" + string.Join('\n', points.Taken()));
        Assert.True(upgrade <= points.Taken().Count, "the start never synced approvals.db:\n" + string.Join('\n', points.Taken()));

        var watch = Stopwatch.StartNew();
        var killedAt = new List<string>();
        for (var n = 1; n <= upgrade; n++)
        {
            CopyStore(old, data);
            var killed = await HostProcess.RunToExitAsync(data, OfflineBot.Settings, points.Environment(killAt: n));
            Assert.True(killed.ExitCode == 137, $"point {n}: the host was to die of SIGKILL there, and exited {killed.ExitCode}:\n{killed.Output}");
            var at = points.Taken()[^1];
            Assert.EndsWith("(killed here)", at, StringComparison.Ordinal);
            killedAt.Add($"{at[..^" (killed here)".Length]} (left schema {VersionLeft(data, work.Combine("look"))})");

            await using (var restarted = await HostProcess.StartOrExitAsync(data, OfflineBot.Settings))
            {
                Assert.False(restarted.HasExited, $"killed at '{at}', the next start did not come up:\n{restarted.Output}");
                await restarted.KillAsync();
            }
            var after = Contents(Path.Combine(data, "approvals.db"), lastOldEvent);
            Assert.Equal("ok", after.Integrity);
            Assert.True(expected.Version == after.Version, $"killed at '{at}', the next start left schema {after.Version}");
            Assert.Equal(expected.Schema, after.Schema);
            Assert.Equal(expected.Drafts, after.Drafts);
            Assert.Equal(expected.Events, after.Events);
        }

        output.WriteLine($"schema {OldVersion} -> {SchemaMigrations.Latest}, {OldStore.Drafts} drafts: killed at each of {upgrade} sync points, " +
            $"each next start finished the upgrade with every draft and event unchanged ({watch.Elapsed.TotalSeconds:F1} s):\n{string.Join('\n', killedAt)}");
    }

    /// <summary>The old store's files (a stopped service leaves only approvals.db) in place of whatever <paramref name="to"/> held.</summary>
    private static void CopyStore(string from, string to)
    {
        if (Directory.Exists(to))
        {
            Directory.Delete(to, recursive: true);
        }
        Directory.CreateDirectory(to);
        File.Copy(Path.Combine(from, "approvals.db"), Path.Combine(to, "approvals.db"));
    }

    /// <summary>
    /// The schema version a killed start left, read from a copy of its files: opening them would recover and fold the
    /// WAL, and the next start must find them as the kill left them.
    /// </summary>
    private static long VersionLeft(string data, string scratch)
    {
        CopyStore(data, scratch);
        if (File.Exists(Path.Combine(data, "approvals.db-wal")))
        {
            File.Copy(Path.Combine(data, "approvals.db-wal"), Path.Combine(scratch, "approvals.db-wal"));
        }
        return Convert.ToInt64(SqliteFile.Scalar(Path.Combine(scratch, "approvals.db"), "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The drafts with what the upgrade adds to them, and the events the old store held.</summary>
    private static StoreContents Contents(string database, long lastOldEvent)
    {
        var version = Convert.ToInt64(SqliteFile.Scalar(database, "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
        return StoreContents.Read(database, version == SchemaMigrations.Latest ? ", card_shown_state, marked_done_by" : "", lastOldEvent);
    }

    /// <summary>A store as a build at <see cref="OldVersion"/> left it, with drafts in every state a start does not move on.</summary>
    private static class OldStore
    {
        public const int Drafts = 10;

        /// <summary>Writes it into <paramref name="folder"/>; the id of its last event.</summary>
        public static long Create(string folder)
        {
            Directory.CreateDirectory(folder);
            using (var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = folder })))
            {
                database.Initialize();
            }
            var path = Path.Combine(folder, "approvals.db");
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = Rows() + DraftFixtures.UndoStepsAfter(OldVersion) + $"PRAGMA user_version = {OldVersion};";
                cmd.ExecuteNonQuery();
            }
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "SELECT max(id) FROM events";
                return (long)cmd.ExecuteScalar()!;
            }
        }

        /// <summary>
        /// No pending draft (the service would send its card) and no route for approved ones; a Mark done in the ledger
        /// (step 11 fills marked_done_by from it), two escalations of one lease's expiries under their old keys (step 10
        /// keeps one) and an open escalation of the unknown draft.
        /// </summary>
        private static string Rows()
        {
            (string Id, string State, string Text)[] drafts =
            [
                ("reply:old:carded", "carded", "Carded by the old build — its card is in the chat ✓"),
                ("reply:old:approved", "approved", "Approved, waiting for a route\nsecond line"),
                ("post:old:rejected", "rejected", "Rejected: <b>not</b> & never"),
                ("reply:old:executed", "executed", "Executed by its route"),
                ("reply:old:marked-done", "executed", "Unknown, then marked done by an approver"),
                ("post:old:cancelled", "cancelled", "Withdrawn by its agent"),
                ("reply:old:unknown", "unknown", "Its run may have taken effect 🤔"),
                ("reply:old:failed", "failed", "Its route failed three times"),
                ("post:old:blocked", "blocked", "Its text changed after the approval"),
                ("reply:old:expired", "expired", "Nobody decided in time"),
            ];
            var sql = new System.Text.StringBuilder();
            for (var i = 0; i < drafts.Length; i++)
            {
                var (id, state, text) = drafts[i];
                var at = 1_700_000_000_000L + i * 60_000;
                var decided = state is "carded" or "expired" or "cancelled" ? "NULL, NULL, NULL, NULL, NULL"
                    : $"'{(state == "rejected" ? "rejected" : "approved")}', 1001, 'Alice', {at + 1000}, '{Sha.Hex(text)}'";
                var executed = state is "executed" or "unknown" or "failed" ? $"{(state == "failed" ? 3 : 1)}, 'key-{i}', {at + 2000}" : "0, NULL, NULL";
                var card = state == "carded" ? "1, 77" : "NULL, NULL";
                var quoted = text.Replace("'", "''", StringComparison.Ordinal);
                sql.AppendLine($$"""
                    INSERT INTO drafts (id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since,
                        decision, decided_by, decided_by_name, decided_at, decision_sha256, exec_attempts, exec_key, exec_at, card_chat_id, card_message_id)
                    VALUES ('{{id}}', '{{id.Split(':')[0]}}', 'old-agent', '{{quoted}}', '{{Sha.Hex(text)}}',
                        '{"source_url":"https://example.test/{{i}}"}', '{{state}}', {{at}}, {{at + 3000}}, {{at + 3000}}, {{decided}}, {{executed}}, {{card}});
                    INSERT INTO events (draft_id, at, type, actor, details) VALUES ('{{id}}', {{at}}, 'submitted', 'agent:old-agent', '{}');
                    """);
            }
            sql.AppendLine("""
                INSERT INTO events (draft_id, at, type, actor, details) VALUES ('reply:old:marked-done', 1700000300000, 'marked_done', 'telegram:4242', '{}');
                INSERT INTO escalations (gap_key, report, gap, draft_id, first_seen, last_sent, sent_count) VALUES
                    ('stale:awaiting_human:reply:old:unknown', 'stale', 'awaiting_human', 'reply:old:unknown', 1700000400000, 1700000500000, 1),
                    ('orphans:lease_expired:7', 'orphans', 'lease_expired', 'reply:old:failed', 1700000400000, 1700000400000, 1),
                    ('orphans:lease_expired:8', 'orphans', 'lease_expired', 'reply:old:failed', 1700000450000, 1700000450000, 1);
                """);
            return sql.ToString();
        }
    }
}
