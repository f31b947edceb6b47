using System.Buffers;

namespace ApprovalBot.Cli;

/// <summary>Writes a value so a POSIX shell reads it back as one word, unchanged: for commands the CLI suggests.</summary>
internal static class ShellWord
{
    private static readonly SearchValues<char> Plain = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:@%+=,");

    public static string Quote(string value) =>
        value.Length > 0 && !value.AsSpan().ContainsAnyExcept(Plain) ? value : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
