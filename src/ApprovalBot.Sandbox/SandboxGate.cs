namespace ApprovalBot.Sandbox;

/// <summary>
/// A hang that the test ends, for putting the bot's calls in a chosen order without sleeping: the held call
/// signals <see cref="Reached"/> and waits until <see cref="Release"/>.
/// </summary>
public sealed class SandboxGate
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a call arrives at the gate.</summary>
    public Task Reached => _reached.Task;

    public void Release() => _released.TrySetResult();

    internal async Task PassAsync(CancellationToken ct)
    {
        _reached.TrySetResult();
        await _released.Task.WaitAsync(ct).ConfigureAwait(false);
    }
}
