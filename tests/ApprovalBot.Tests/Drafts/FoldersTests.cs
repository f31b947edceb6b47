using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Reliability;

namespace ApprovalBot.Tests.Drafts;

public sealed class FoldersTests
{
    /// <summary>
    /// The first start in a data directory that does not exist yet syncs the parent of every folder it creates: SQLite
    /// syncs the folder of its files, not that folder's own entry, so a power cut soon after could lose the new store,
    /// receipts given included. Seen from inside the host by the LD_PRELOAD shim (<see cref="SyncLog"/>).
    /// </summary>
    [Fact]
    public async Task CreateDurably_FirstStartInANewDataDirectory_EveryCreatedFoldersParentSynced()
    {
        using var temp = new TempDirectory();
        using var sync = await SyncLog.CreateAsync();
        var data = Path.Combine(temp.Path, "new", "nested", "data");

        await using (var host = await HostProcess.StartAsync(temp.Path, [$"ApprovalBot:DataDirectory={data}"], sync.Environment))
        {
            Assert.True(File.Exists(Path.Combine(data, "approvals.db")));
        }
        var synced = sync.Take();

        foreach (var parent in new[] { temp.Path, Path.Combine(temp.Path, "new"), Path.Combine(temp.Path, "new", "nested") })
        {
            Assert.True(synced.Contains($"fsync {parent}"), $"'{parent}' was not synced after a folder was created in it:\n{string.Join('\n', synced)}");
        }
    }
}
