namespace ApprovalBot.Backups;

/// <summary>A backup or restore refused or failed, for the reason its message says in full; nothing was changed.</summary>
internal sealed class StoreCommandException(string message, Exception? inner = null) : Exception(message, inner);
