namespace ApprovalBot.Pipe;

/// <summary>Bound from <c>ApprovalBot:Pipe</c>.</summary>
internal sealed class AgentPipeOptions
{
    public const string Section = "ApprovalBot:Pipe";

    /// <summary>A pipe name, or an absolute path used as the Unix socket path.</summary>
    public string Name { get; set; } = "approvalbot";

    /// <summary>Largest request line in bytes; a longer one is answered <c>too_large</c> and the connection closed.</summary>
    public int MaxLineBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest <c>context</c> object, in bytes of its JSON.</summary>
    public int MaxContextBytes { get; set; } = 16 * 1024;

    /// <summary>Connections served at once; a further one takes the slot of the one idle the longest, or waits while all are busy.</summary>
    public int MaxConnections { get; set; } = 256;

    /// <summary>
    /// How long the rest of a request line may take once part of it has come; then it is answered <c>line_timeout</c> and
    /// the connection closed. Waiting for a line's first byte (an idle connection) has no limit.
    /// </summary>
    public TimeSpan LineTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The socket file this name stands for, as .NET's named pipes place it on Unix.</summary>
    public string SocketPath => Client.PipeClient.SocketPathOf(Name);
}
