namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// For facts that raise no signal (a store write that moves no state, such as a recorded card failure):
/// re-checks until true or the timeout. Use a sandbox or store signal wherever one exists.
/// </summary>
internal static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        TrueAsync(() => Task.FromResult(condition()), () => what, timeout);

    /// <summary>With a condition that has to ask (a pipe call) and a description built only on failure (a process's output so far).</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TelegramHarness.Wait);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what());
            }
            await Task.Delay(20);
        }
    }
}
