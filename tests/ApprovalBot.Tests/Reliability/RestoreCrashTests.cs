using System.Diagnostics;
using ApprovalBot.Backups;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// README "Backing up and restoring": "a restore that stops midway says so, and running it again finishes it", and the
/// service refuses to start while a restore is unfinished. The README's restore command, as written, is killed with
/// SIGKILL at each of its durability points in turn (<see cref="CrashPoints"/>); each time the service must start on the
/// complete old store or the complete restored one, or refuse saying how to finish, and the restore run again must finish.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RestoreCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Restore_KilledAtEachSyncPoint_ServiceRefusesSayingHowToFinishOrStartsOnAWholeStore_RunAgainFinishes()
    {
        using var work = new TempDirectory();
        var killedService = work.Combine("killed-service");
        var backup = work.Combine("approvals-backup.db");
        Stores.Create(killedService, backup);
        var old = Stores.Contents(killedService, work.Combine("look"));
        var copy = StoreContents.Read(backup);
        Assert.NotEqual(old.Drafts, copy.Drafts);

        var data = work.Combine("data");
        using var points = await CrashPoints.CreateAsync(data, data + "/approvals.db*", data + "/replaced-*");
        Stores.CopyInto(killedService, data);
        var dry = await RestoreAsync(data, backup, points.Environment());
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        var all = points.Taken();
        Assert.Contains(all, p => p.Contains($" rename {data}/approvals.db.restoring {data}/approvals.db", StringComparison.Ordinal));

        var watch = Stopwatch.StartNew();
        var outcomes = new List<string>();
        for (var n = 1; n <= all.Count; n++)
        {
            Stores.CopyInto(killedService, data);
            var killed = await RestoreAsync(data, backup, points.Environment(killAt: n));
            Assert.True(killed.ExitCode == 137, $"point {n} ({all[n - 1]}): the restore was to die of SIGKILL there, and exited {killed.ExitCode}: {killed.Stderr}");
            var at = points.Taken()[^1];
            Assert.EndsWith("(killed here)", at, StringComparison.Ordinal);

            string outcome;
            await using (var host = await HostProcess.StartOrExitAsync(data, OfflineBot.Settings))
            {
                if (host.HasExited)
                {
                    Assert.True(host.ExitCode == 1, $"killed at '{at}', the service exited {host.ExitCode}:\n{host.Output}");
                    Assert.Contains($"ApprovalBot could not start: A restore into '{data}' did not finish", host.Output, StringComparison.Ordinal);
                    Assert.Contains("Run the restore again (ApprovalBot restore <backup>)", host.Output, StringComparison.Ordinal);
                    outcome = Directory.Exists(Path.Combine(data, "approvals.db.replacing")) ? "refused (store being moved aside)"
                        : File.Exists(Path.Combine(data, "approvals.db")) ? "refused (store in place)" : "refused (store moved aside)";
                    if (outcome == "refused (store in place)")
                    {
                        // "or delete that file to keep the store as it is": the store in place is the whole old one.
                        Assert.True(old.Drafts.SequenceEqual(Stores.Contents(data, work.Combine("look")).Drafts),
                            $"killed at '{at}', the service offered to keep the store in place, which is not the old store whole");
                    }
                }
                else
                {
                    await host.KillAsync();
                    var served = StoreContents.Read(Path.Combine(data, "approvals.db"));
                    Assert.True(served.Drafts.SequenceEqual(old.Drafts) || served.Drafts.SequenceEqual(copy.Drafts),
                        $"killed at '{at}', the service started on a store that is neither the old one nor the copy:\n{string.Join('\n', served.Drafts)}");
                    outcome = served.Drafts.SequenceEqual(old.Drafts) ? "started on the old store" : "started on the restored store";
                    if (outcome == "started on the restored store")
                    {
                        AssertRestored(data, copy);
                    }
                }
            }
            outcomes.Add($"{at[..^" (killed here)".Length]}: {outcome}");

            var again = RestoreAgain(data, backup);
            Assert.True(again.ExitCode == StoreCommand.Done, $"killed at '{at}', the restore run again failed: {again.Stderr}");
            AssertRestored(data, copy);
            // The store it replaced is kept whole, in one replaced-* folder (the same one when the cut-off run had moved it),
            // and none of its files is left anywhere else: each replaced-* folder holds one whole store (a second one the
            // store the cut-off run had finished restoring), and nothing of a store is left beside the new one.
            var folders = Directory.GetDirectories(data, "replaced-*");
            var kept = folders.Select(f => File.Exists(Path.Combine(f, "approvals.db")) ? StoreContents.Read(Path.Combine(f, "approvals.db")).Drafts : null).ToList();
            Assert.True(kept.All(drafts => drafts is not null && (drafts.SequenceEqual(old.Drafts) || drafts.SequenceEqual(copy.Drafts)))
                && kept.Count(drafts => drafts!.SequenceEqual(old.Drafts)) == 1,
                $"killed at '{at}', the restore run again did not keep the old store whole in one replaced-* folder: {string.Join("; ", folders.Select(f => $"{Path.GetFileName(f)}: {string.Join(", ", Directory.GetFiles(f).Select(Path.GetFileName))}"))}");
            Assert.Equal(["approvals.db", "approvals.db.lock", .. folders.Select(Path.GetFileName).Order(StringComparer.Ordinal)],
                Directory.GetFileSystemEntries(data).Select(Path.GetFileName)
                    .Where(name => name!.StartsWith("approvals.db", StringComparison.Ordinal) || name.StartsWith("replaced-", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal));
        }

        // The last one restored serves, as any restored store does.
        await using (var host = await HostProcess.StartAsync(data, OfflineBot.Settings))
        {
            await using var client = await host.ConnectAsync();
            foreach (var id in Stores.CopyIds)
            {
                Assert.Equal(Sha.Hex(Stores.Text(id)), (await client.GetAsync(id)).Draft!.Sha256);
            }
        }
        output.WriteLine($"{all.Count} sync points, killed at each ({watch.Elapsed.TotalSeconds:F1} s); then the service, and the restore run again, which finished every time:\n{string.Join('\n', outcomes)}");
    }

    /// <summary>The README's restore block, as written, run with this build's program.</summary>
    private static Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Took)> RestoreAsync(string data, string backup, IReadOnlyDictionary<string, string> environment) =>
        ReadmeScript.RunAsync("restore", new Dictionary<string, string>
        {
            ["run"] = "dotnet " + Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"), ["data"] = data, ["backup"] = backup,
        }, environment);

    /// <summary>The same command line in this process: what is checked after it is the files it leaves, and it is cheaper.</summary>
    private static (int ExitCode, string Stderr) RestoreAgain(string data, string backup)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = StoreCommand.Parse(["restore", backup, $"--ApprovalBot:DataDirectory={data}"])!.Run(stdout, stderr, TimeProvider.System);
        return (exit, stderr.ToString());
    }

    /// <summary>The data directory holds the copy, whole and marked restored, with nothing beside it that SQLite would replay.</summary>
    private static void AssertRestored(string data, StoreContents copy)
    {
        var database = Path.Combine(data, "approvals.db");
        Assert.False(File.Exists(StoreLock.RestoringPathOf(database)), "the restore left approvals.db.restoring");
        var restored = StoreContents.Read(database);
        Assert.Equal("ok", restored.Integrity);
        Assert.Equal(copy.Drafts, restored.Drafts);
        Assert.Equal(copy.Events, restored.Events.Take(copy.Events.Count));
        Assert.Contains(restored.Events.Skip(copy.Events.Count), e => e.Contains(" | store_restored | ", StringComparison.Ordinal));
        Assert.True(Convert.ToInt64(SqliteFile.Scalar(database, "SELECT seq FROM sqlite_sequence WHERE name = 'drafts'"), System.Globalization.CultureInfo.InvariantCulture) > StoreRestore.CounterJump,
            "the restored store's seq counter did not jump");
    }

    /// <summary>The store a killed service left (its last commits still in the WAL) and a backup taken before those commits.</summary>
    private static class Stores
    {
        public static readonly string[] CopyIds = ["reply:restore:carded", "reply:restore:decided-since", "post:restore:executed", "reply:restore:unknown"];

        private static readonly string[] SinceIds = ["reply:restore:since-1", "post:restore:since-2"];

        public static string Text(string id) => $"Text of {id} — ✓";

        public static void Create(string folder, string backup)
        {
            using (var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = folder })))
            {
                database.Initialize();
            }
            var path = Path.Combine(folder, "approvals.db");
            var states = new[] { "carded", "carded", "executed", "unknown" };
            Execute(path, string.Concat(CopyIds.Select((id, i) => Insert(id, states[i]))));
            StoreBackup.Run(path, backup, TimeSpan.FromSeconds(10));
            // After the backup, then killed: nothing checkpoints, and the files are copied while the connection is open.
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            Execute(connection, "PRAGMA wal_autocheckpoint = 0;" + string.Concat(SinceIds.Select(id => Insert(id, "carded")))
                + "UPDATE drafts SET state = 'rejected', decision = 'rejected', decided_by = 1001 WHERE id = 'reply:restore:decided-since';");
            var killed = Path.Combine(Path.GetDirectoryName(folder)!, "killed");
            Directory.CreateDirectory(killed);
            File.Copy(path, Path.Combine(killed, "approvals.db"));
            File.Copy(path + "-wal", Path.Combine(killed, "approvals.db-wal"));
            connection.Close();
            Directory.Delete(folder, recursive: true);
            Directory.Move(killed, folder);
            Assert.True(new FileInfo(Path.Combine(folder, "approvals.db-wal")).Length > 0);
        }

        /// <summary>The store in <paramref name="folder"/> (database and WAL) in place of whatever <paramref name="data"/> held.</summary>
        public static void CopyInto(string folder, string data)
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
            Directory.CreateDirectory(data);
            foreach (var file in Directory.GetFiles(folder))
            {
                File.Copy(file, Path.Combine(data, Path.GetFileName(file)));
            }
        }

        /// <summary>What the store in <paramref name="folder"/> holds, read from a copy: reading recovers and folds the WAL.</summary>
        public static StoreContents Contents(string folder, string scratch)
        {
            CopyInto(folder, scratch);
            return StoreContents.Read(Path.Combine(scratch, "approvals.db"));
        }

        private static string Insert(string id, string state) =>
            $"""
            INSERT INTO drafts (id, kind, agent, text, sha256, state, created_at, updated_at, state_since)
                VALUES ('{id}', '{id.Split(':')[0]}', 'agent', '{Text(id)}', '{Sha.Hex(Text(id))}', '{state}', 1700000000000, 1700000000000, 1700000000000);
            INSERT INTO events (draft_id, at, type, actor, details) VALUES ('{id}', 1700000000000, 'submitted', 'agent:agent', '{"{}"}');
            """;

        private static void Execute(string path, string sql)
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            Execute(connection, sql);
        }

        private static void Execute(SqliteConnection connection, string sql)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
    }
}
