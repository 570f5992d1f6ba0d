using System.Diagnostics;
using System.Linq.Expressions;
using System.Runtime;
using Functional.AD;
using static Functional.AD.Np;

// Times Ad.Jit(Ad.Grad(loss)) and its first call in this fresh process (issue 20), then the same again on new
// functions (the process now warm), 15 times. Each step reports its wall time, the methods the runtime JIT-compiled during it and
// the time the JIT spent (System.Runtime.JitInfo, this thread). Prints one line per step. `--fresh-only` stops after
// the fresh part (for profiles of a fresh process); `--rounds N` runs N warm rounds instead of 15.
// `--tables-first` builds the library's primitive table as a step of its own before Ad.Grad.
// `--list-jitted`: prints the methods the runtime JIT-compiles from before Ad.Grad to after the first call (runtime events)
using var jitList = args.Contains("--list-jitted") ? new JitListener() : null;
var t0 = Stopwatch.GetTimestamp();
long m0 = JitInfo.GetCompiledMethodCount(currentThread: true);
TimeSpan j0 = JitInfo.GetCompilationTime(currentThread: true);
var p = new XorParams(new Tensor(new float[] { 0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f }, [3, 2]), new Tensor(new float[] { 0.1f, 0.2f, 0.3f }),
    new Tensor(new float[] { 0.7f, -0.8f, 0.9f }), Tensor.Scalar(0.1, DType.Float32));
var x = new Tensor(new float[] { 0, 1 });
var y = Tensor.Scalar(1, DType.Float32);
Step("data (3 tensors, the record)");

if (jitList is not null) jitList.On = true;
// `--tables-first`: the library's primitive table (its static constructor) built as a step of its own
if (args.Contains("--tables-first"))
{
    System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(Ad).Assembly.GetType("Functional.AD.Prims")!.TypeHandle);
    Step("the primitive table");
}
var grad = Ad.Grad(Xor.Loss);
Step("Ad.Grad(loss)");
var jitted = Ad.Jit(grad);
Step("Ad.Jit(...)");
var g = jitted(p, x, y);
Step("first call");
Console.WriteLine($"fresh: Ad.Grad + Ad.Jit + first call {Ms(afterData, Stopwatch.GetTimestamp()):F1} ms; JIT-compiled methods {JitInfo.GetCompiledMethodCount(true) - mData}, JIT time {(JitInfo.GetCompilationTime(true) - jData).TotalMilliseconds:F1} ms (gW1[0] = {g.W1[0, 0]:G6})");

if (jitList is not null)
{
    jitList.On = false;
    Thread.Sleep(500); // the listener's events arrive on its own thread
    foreach (var name in jitList.Names) Console.WriteLine("  jitted: " + name);
    Console.WriteLine($"JIT time by method (events), {jitList.Ms.Values.Sum():F1} ms in all; the 40 longest:");
    foreach (var (name, ms) in jitList.Ms.OrderByDescending(kv => kv.Value).Take(40).Select(kv => (kv.Key, kv.Value))) Console.WriteLine($"  {ms,7:F2} ms  {name}");
}
if (args.Contains("--fresh-only") || jitList is not null) return;

// the same on a new function, warm: 15 rounds, the median
var warmMs = new List<double>();
var warmJitMs = new List<double>();
int rounds = args.Length > 1 && args[0] == "--rounds" ? int.Parse(args[1]) : 15;
for (int round = 0; round < rounds; round++)
{
    long s = Stopwatch.GetTimestamp();
    var jt = JitInfo.GetCompilationTime(true);
    var g2 = Ad.Jit(Ad.Grad(Xor.Loss))(p, x, y);
    warmMs.Add(Ms(s, Stopwatch.GetTimestamp()));
    warmJitMs.Add((JitInfo.GetCompilationTime(true) - jt).TotalMilliseconds);
    GC.KeepAlive(g2);
}
warmMs.Sort();
warmJitMs.Sort();
Console.WriteLine($"warm ({rounds} rounds): Ad.Grad + Ad.Jit + first call median {warmMs[rounds / 2]:F2} ms, best {warmMs[0]:F2} ms; of which the runtime JIT (the specialisation's method) median {warmJitMs[rounds / 2]:F2} ms");
Console.WriteLine($"process: {Environment.ProcessorCount} processors, ReadyToRun library: {IsReadyToRun()}, tiered compilation: {AppContext.GetData("System.Runtime.TieredCompilation") ?? "default"}");

static double Ms(long a, long b) => (b - a) * 1000.0 / Stopwatch.Frequency;

void Step(string what)
{
    long now = Stopwatch.GetTimestamp(), m = JitInfo.GetCompiledMethodCount(true);
    var j = JitInfo.GetCompilationTime(true);
    Console.WriteLine($"{what,-32} {Ms(t0, now),8:F1} ms  JIT-compiled methods {m - m0,5}  JIT time {(j - j0).TotalMilliseconds,6:F1} ms");
    if (what.StartsWith("data")) { afterData = now; mData = m; jData = j; }
    (t0, m0, j0) = (now, m, j);
}

// a ReadyToRun image has a managed native header; an IL-only one does not
static bool IsReadyToRun()
{
    using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(typeof(Ad).Assembly.Location));
    return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
}

/// <summary>The XOR net's parameters.</summary>
public record XorParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

/// <summary>The XOR loss of Examples/Xor (and of the benchmarks).</summary>
public static class Xor
{
    public static readonly Expression<Func<Tensor, Tensor>> Sigmoid = z => 1.0 / (1 + Exp(-z));
    public static readonly Expression<Func<XorParams, Tensor, Tensor, Tensor>> Loss =
        (p, x, y) => Let(Sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2), o => -y * Log(o) - (1 - y) * Log(1 - o));
}

partial class Program
{
    static long afterData, mData;
    static TimeSpan jData;
}

/// <summary>Collects the names of methods the runtime JIT-compiles while <see cref="On"/> (the runtime's JIT events).</summary>
sealed class JitListener : System.Diagnostics.Tracing.EventListener
{
    public volatile bool On;
    public readonly System.Collections.Concurrent.ConcurrentQueue<string> Names = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
    }

    /// <summary>Each method's JIT time (from its MethodJittingStarted event to its MethodLoad event), by name.</summary>
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> Ms = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, (string Name, DateTime At)> started = new();

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.Payload is null) return;
        if (e.EventName is "MethodJittingStarted_V1" && On)
        {
            int ns = e.PayloadNames!.IndexOf("MethodNamespace"), name = e.PayloadNames.IndexOf("MethodName"), id = e.PayloadNames.IndexOf("MethodID");
            var full = $"{e.Payload[ns]}::{e.Payload[name]}";
            Names.Enqueue(full);
            started[(ulong)e.Payload[id]!] = (full, e.TimeStamp);
        }
        else if (e.EventName is { } n && n.StartsWith("MethodLoadVerbose"))
        {
            int id = e.PayloadNames!.IndexOf("MethodID");
            if (started.TryRemove((ulong)e.Payload[id]!, out var s)) Ms.AddOrUpdate(s.Name, (e.TimeStamp - s.At).TotalMilliseconds, (_, v) => v + (e.TimeStamp - s.At).TotalMilliseconds);
        }
    }
}
