using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Telegram;

/// <summary>The bot's own outgoing limits with Telegram's defaults, on a clock the test moves: no sleeps.</summary>
public sealed class OutgoingRateLimiterTests
{
    private const long Group = -100_42;
    private const long Private = 42;

    private readonly ManualTimeProvider _clock = new();

    private OutgoingRateLimiter Limiter(TelegramRateLimits? limits = null) =>
        new(Options.Create(new TelegramOptions { RateLimits = limits ?? new TelegramRateLimits() }), _clock);

    [Fact]
    public void TryAcquire_EditInAGroupWhoseMinuteIsSpent_AllowedAtOnceAndTakesNoGroupSlot()
    {
        var limiter = Limiter();
        for (var i = 0; i < 19; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }

        // The "Approved by" edit of a tap must not wait for the group's minute (the poller waits for it).
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group, newMessage: false));
            _clock.Advance(TimeSpan.FromMilliseconds(200));
        }

        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        Assert.NotEqual(TimeSpan.Zero, limiter.TryAcquire(Group));
    }

    /// <summary>A reply nobody waits on takes a slot only while more than half of the limits is free, and leaves the rest to those that wait.</summary>
    [Fact]
    public void TryAcquireSpare_GroupPrivateChatAndOverall_HalfOfEachLeftToTheSendsThatWait()
    {
        var limiter = Limiter();
        Assert.Equal(10, Enumerable.Range(0, 20).Count(_ => limiter.TryAcquireSpare(Group)));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }
        Assert.NotEqual(TimeSpan.Zero, limiter.TryAcquire(Group));

        // 20 of the overall 30 this second: none for a private chat whose own burst is untouched.
        Assert.False(limiter.TryAcquireSpare(Private));
        _clock.Advance(TimeSpan.FromSeconds(1));

        // A burst of 3: one is kept back.
        Assert.Equal(2, Enumerable.Range(0, 3).Count(_ => limiter.TryAcquireSpare(Private)));
        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Private));

        // Nothing taken when refused: a burst of one is all there is, and a refused spare send leaves it.
        var one = Limiter(new TelegramRateLimits { PerChatBurst = 1 });
        Assert.True(one.TryAcquireSpare(Private));
        Assert.False(one.TryAcquireSpare(Private));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, one.TryAcquire(Private));
    }

    [Fact]
    public void TryAcquire_ThirtyEditsInOneSecond_ThirtyFirstWaitsForTheOverallWindow()
    {
        var limiter = Limiter();
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Private, newMessage: false));
        }

        Assert.Equal(TimeSpan.FromSeconds(1), limiter.TryAcquire(Group, newMessage: false));
        Assert.Equal(TimeSpan.FromSeconds(1), limiter.TryAcquire(Private));
    }

    [Fact]
    public void TryAcquire_TwentyToAGroup_TwentyFirstWaitsUntilTheFirstLeavesTheMinute()
    {
        var limiter = Limiter();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }

        Assert.Equal(TimeSpan.FromSeconds(60), limiter.TryAcquire(Group));
        _clock.Advance(TimeSpan.FromSeconds(45));
        Assert.Equal(TimeSpan.FromSeconds(15), limiter.TryAcquire(Group));
        _clock.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
    }

    [Fact]
    public void TryAcquire_GroupSpreadOverTheMinute_WindowSlidesWithTheOldestSend()
    {
        var limiter = Limiter();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }
        _clock.Advance(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }

        // The first ten leave the window at 60 s, the next ten at 90 s: not one more every 3 s.
        Assert.Equal(TimeSpan.FromSeconds(30), limiter.TryAcquire(Group));
        _clock.Advance(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
        }
        Assert.Equal(TimeSpan.FromSeconds(30), limiter.TryAcquire(Group));
    }

    [Theory]
    [InlineData(Group, 60, 20)]
    [InlineData(Private, 10, 3 + 10)]
    public void TryAcquire_SendingAsFastAsAllowedForTenMinutes_NoWindowExceedsTheLimit(long chatId, int windowSeconds, int most)
    {
        var limiter = Limiter();
        var sent = SendGreedily(limiter, chatId, TimeSpan.FromMinutes(10));

        var window = TimeSpan.FromSeconds(windowSeconds);
        Assert.All(sent, start => Assert.True(sent.Count(t => t >= start && t < start + window) <= most, $"{windowSeconds} s from {start}"));
        // ... and the limit is used, not undercut: 20 a minute in a group, about one a second in a private chat.
        Assert.True(sent.Count >= (chatId < 0 ? 200 : 600), $"{sent.Count} sends in ten minutes");
    }

    [Fact]
    public void TryAcquire_PrivateChat_ShortBurstThenAboutOnePerSecond()
    {
        var limiter = Limiter();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Private));
        }

        Assert.Equal(TimeSpan.FromSeconds(1), limiter.TryAcquire(Private));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Private));
        Assert.Equal(TimeSpan.FromSeconds(1), limiter.TryAcquire(Private));
    }

    [Fact]
    public void TryAcquire_ThirtyChatsInOneSecond_ThirtyFirstWaitsForTheGlobalWindow()
    {
        var limiter = Limiter();
        for (var chat = 1; chat <= 30; chat++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(chat));
        }

        Assert.Equal(TimeSpan.FromSeconds(1), limiter.TryAcquire(31));
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(TimeSpan.FromMilliseconds(1), limiter.TryAcquire(-31));
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(31));
    }

    [Fact]
    public void TryAcquire_Refused_TakesNothing()
    {
        var limiter = Limiter();
        for (var i = 0; i < 20; i++)
        {
            limiter.TryAcquire(Group);
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TimeSpan.FromSeconds(60), limiter.TryAcquire(Group));
        }
        _clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.Zero, limiter.TryAcquire(Group));
    }

    [Fact]
    public async Task WaitAsync_TwentyFirstToAGroup_CompletesOnlyWhenTheClockReachesTheMinute()
    {
        var limiter = Limiter();
        for (var i = 0; i < 20; i++)
        {
            Assert.True(limiter.WaitAsync(Group, newMessage: true, CancellationToken.None).IsCompletedSuccessfully);
        }

        var twentyFirst = limiter.WaitAsync(Group, newMessage: true, CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.False(twentyFirst.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(1));

        await twentyFirst.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Sends whenever the limiter allows, moving the clock to exactly when it says the next slot is free.</summary>
    private List<DateTimeOffset> SendGreedily(OutgoingRateLimiter limiter, long chatId, TimeSpan duration)
    {
        var end = _clock.GetUtcNow() + duration;
        var sent = new List<DateTimeOffset>();
        while (_clock.GetUtcNow() < end)
        {
            var wait = limiter.TryAcquire(chatId);
            if (wait == TimeSpan.Zero)
            {
                sent.Add(_clock.GetUtcNow());
            }
            else
            {
                _clock.Advance(wait);
            }
        }
        return sent;
    }
}
