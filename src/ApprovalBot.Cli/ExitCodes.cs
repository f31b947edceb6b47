using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>The process exit codes of <c>approvalctl</c>. Scripts branch on these, so they never change meaning.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Internal = 1;
    public const int BadInput = 2;
    public const int Conflict = 3;
    public const int NotFound = 4;
    public const int Unavailable = 5;
    public const int WaitTimedOut = 6;

    /// <summary>Maps a protocol error code; codes this CLI does not know count as internal.</summary>
    public static int FromErrorCode(string? code) => code switch
    {
        ErrorCodes.BadRequest or ErrorCodes.TooLarge or ErrorCodes.UnknownOp or ErrorCodes.Invalid or ErrorCodes.UnknownKind => BadInput,
        ErrorCodes.Conflict => Conflict,
        ErrorCodes.NotFound => NotFound,
        // Nothing was carried out and the same command may well go through: approvalctl writes its line in one go, so
        // only a stalled machine or process misses the service's Pipe:LineTimeout.
        ErrorCodes.Unavailable or ErrorCodes.LineTimeout => Unavailable,
        _ => Internal,
    };
}
