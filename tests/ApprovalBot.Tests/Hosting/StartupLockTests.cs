using ApprovalBot.Hosting;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Hosting;

public sealed class StartupLockTests
{
    /// <summary>Held elsewhere, a lock that creates nothing (its file is there, or it has none: the sandbox's port) refuses the start first.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TakeAll_ALockThatCreatesNothingIsHeldElsewhere_RefusedBeforeANewLockIsTaken(bool withAFile)
    {
        using var dir = new TempDirectory();
        var existing = Path.Combine(dir.Path, "held.lock");
        File.WriteAllText(existing, "");
        var taken = new List<string>();
        using var services = new ServiceCollection()
            .AddSingleton(new StartupLock(Path.Combine(dir.Path, "new", "a.lock"), () => taken.Add("new")))
            .AddSingleton(new StartupLock(withAFile ? existing : null, () => throw new StartupRefusedException("held")))
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
}
