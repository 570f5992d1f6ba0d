using System.Collections.Concurrent;
using System.Diagnostics;

namespace Functional.AD.Torch;

/// <summary>
/// Time spent per primitive in Torch-compiled code, for finding where a compiled program's time goes. Off unless the
/// environment variable <c>FAD_TORCH_PROFILE</c> is set when a function is compiled: then each of its tensor nodes adds
/// its wall time (libtorch's CPU ops run synchronously; on CUDA this times the launches only) and a count to a table
/// shared by the process. Development aid: the Benchmarks project's <c>--cnn-torch-profile</c> prints it.
/// </summary>
internal static class TorchProfile
{
    /// <summary>Whether code compiled now is timed.</summary>
    public static readonly bool On = Environment.GetEnvironmentVariable("FAD_TORCH_PROFILE") is { Length: > 0 };

    static readonly ConcurrentDictionary<string, long[]> table = new();

    /// <summary>Adds one timed run of <paramref name="name"/>.</summary>
    public static void Add(string name, long ticks)
    {
        var cell = table.GetOrAdd(name, _ => new long[2]);
        Interlocked.Add(ref cell[0], ticks);
        Interlocked.Increment(ref cell[1]);
    }

    /// <summary>Forgets what was timed.</summary>
    public static void Reset() => table.Clear();

    /// <summary>Per primitive: total milliseconds and calls, the most costly first.</summary>
    public static IReadOnlyList<(string Name, double Ms, long Calls)> Snapshot() =>
        table.Select(kv => (kv.Key, kv.Value[0] * 1000.0 / Stopwatch.Frequency, kv.Value[1])).OrderByDescending(r => r.Item2).ToList();
}
