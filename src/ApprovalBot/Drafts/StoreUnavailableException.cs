namespace ApprovalBot.Drafts;

/// <summary>The store could not commit (disk full, read-only, I/O error); nothing of the write was kept.</summary>
internal sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
