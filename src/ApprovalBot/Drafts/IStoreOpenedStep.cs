namespace ApprovalBot.Drafts;

/// <summary>
/// Work that must be done on the store once it is open and before any other feature starts: the pipe binds its socket
/// and Telegram polls only after every step has run. Run by <see cref="StoreInitializer"/>, in registration order; a step
/// that throws stops the start.
/// </summary>
internal interface IStoreOpenedStep
{
    Task RunAsync(CancellationToken cancellationToken);
}
