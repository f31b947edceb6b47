using ApprovalBot.Hosting;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Hosting;

public sealed class StartupLockTests
{
    [Fact]
    public void TakeAll_ALockWhoseFileExistsIsHeldElsewhere_RefusedBeforeANewLockIsTaken()
    {
        using var dir = new TempDirectory();
        var existing = Path.Combine(dir.Path, "held.lock");
        File.WriteAllText(existing, "");
        var taken = new List<string>();
        using var services = new ServiceCollection()
            .AddSingleton(new StartupLock(Path.Combine(dir.Path, "new", "a.lock"), () => taken.Add("new")))
            .AddSingleton(new StartupLock(existing, () => throw new StartupRefusedException("held")))
            .BuildServiceProvider();

        var refused = Assert.Throws<StartupRefusedException>(() => StartupLock.TakeAll(services));

        Assert.Equal("held", refused.Message);
        Assert.Empty(taken);
    }

    [Fact]
    public void TakeAll_NoneExistsYet_TakenInRegistrationOrder()
    {
        using var dir = new TempDirectory();
        var taken = new List<string>();
        using var services = new ServiceCollection()
            .AddSingleton(new StartupLock(Path.Combine(dir.Path, "store.lock"), () => taken.Add("store")))
            .AddSingleton(new StartupLock(Path.Combine(dir.Path, "pipe.lock"), () => taken.Add("pipe")))
            .BuildServiceProvider();

        StartupLock.TakeAll(services);

        Assert.Equal(["store", "pipe"], taken);
    }

    [Fact]
    public void TakeAll_ALockWithoutAFileHeldElsewhere_RefusedBeforeANewLockIsTaken()
    {
        using var dir = new TempDirectory();
        var taken = new List<string>();
        using var services = new ServiceCollection()
            .AddSingleton(new StartupLock(Path.Combine(dir.Path, "new", "a.lock"), () => taken.Add("new")))
            .AddSingleton(new StartupLock(null, () => throw new StartupRefusedException("port in use")))
            .BuildServiceProvider();

        var refused = Assert.Throws<StartupRefusedException>(() => StartupLock.TakeAll(services));

        Assert.Equal("port in use", refused.Message);
        Assert.Empty(taken);
    }
}
