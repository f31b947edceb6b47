using System.Globalization;

namespace ApprovalBot.Benchmarks;

/// <summary>The threads of a process as Linux's /proc shows them: name and CPU time (user + system, 10 ms ticks).</summary>
internal static class ProcThreads
{
    public sealed record Thread(string Directory, string Name, long Ticks);

    /// <summary>Every thread of <paramref name="pid"/> still there when read; none where there is no /proc.</summary>
    public static IEnumerable<Thread> Of(int pid)
    {
        var tasks = $"/proc/{pid}/task";
        if (!System.IO.Directory.Exists(tasks)) yield break;
        foreach (var dir in System.IO.Directory.GetDirectories(tasks))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended meanwhile
            }
            var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime, fields 14 and 15 of stat.
            yield return new Thread(dir, name, long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>CPU ticks used so far by the threads of <paramref name="pid"/> whose name <paramref name="named"/> accepts.</summary>
    public static long Ticks(int pid, Func<string, bool> named) => Of(pid).Where(t => named(t.Name)).Sum(t => t.Ticks);
}
