namespace ApprovalBot;

/// <summary>
/// The service cannot start for a reason its message says in full, naming the setting to change (the data directory or
/// the pipe in use by another process, a data directory that cannot be created): logged once, without a stack trace.
/// </summary>
internal sealed class StartupRefusedException(string message, Exception? inner = null) : Exception(message, inner);
