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
// `--list-jitted`: prints the methods the runtime JIT-compiles from before Ad.Grad to after the first call, and the number of
// types the runtime loads in each step (runtime events, delivered late: roughly); with FAD_TYPES_FILE=path, their names.
// `--floor compiled|interpreted [scalar]`: the loss itself run by the framework's expression compiler or interpreter
// instead (`scalar`: the same loss written on doubles, no library code), what System.Linq.Expressions costs a fresh process.
using var jitList = args.Contains("--list-jitted") ? new JitListener() : null;
var steps = new List<string>();
int typesBefore = 0;
var t0 = Stopwatch.GetTimestamp();
long m0 = JitInfo.GetCompiledMethodCount(currentThread: true);
TimeSpan j0 = JitInfo.GetCompilationTime(currentThread: true);
var p = new XorParams(new Tensor(new float[] { 0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f }, [3, 2]), new Tensor(new float[] { 0.1f, 0.2f, 0.3f }),
    new Tensor(new float[] { 0.7f, -0.8f, 0.9f }), Tensor.Scalar(0.1, DType.Float32));
var x = new Tensor(new float[] { 0, 1 });
var y = Tensor.Scalar(1, DType.Float32);
Step("data (3 tensors, the record)");

// `--floor`: instead of the library's transformations, the loss as the framework's expression compiler (or interpreter)
// runs it, from the expression to its first result
if (args.Contains("--floor"))
{
    bool interpret = args.Contains("interpreted");
    if (args.Contains("scalar"))
    {
        // the same loss on C# doubles (one hidden unit), through the framework alone: no library code runs
        Expression<Func<double, double, double, double>> scalarLoss = (w, xs, ys) =>
            -ys * Math.Log(1 / (1 + Math.Exp(-(w * Math.Tanh(w * xs + 0.1) + 0.2)))) - (1 - ys) * Math.Log(1 - 1 / (1 + Math.Exp(-(w * Math.Tanh(w * xs + 0.1) + 0.2))));
        var s0 = Stopwatch.GetTimestamp();
        var v = scalarLoss.Compile(preferInterpretation: interpret)(0.3, 1, 1);
        Console.WriteLine($"floor: a scalar loss expression (doubles, framework only) {(interpret ? "interpreted" : "compiled")} and called once {Ms(s0, Stopwatch.GetTimestamp()):F1} ms ({v:G4})");
        return;
    }
    var start = Stopwatch.GetTimestamp();
    var loss = Xor.Loss.Compile(preferInterpretation: interpret)(p, x, y);
    var end = Stopwatch.GetTimestamp();
    Console.WriteLine($"floor: the loss expression {(interpret ? "interpreted" : "compiled")} and called once {Ms(start, end):F1} ms (loss {loss.Item():G4})");
    return;
}
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
foreach (var line in steps) Console.WriteLine(line);
Console.WriteLine($"fresh: Ad.Grad + Ad.Jit + first call {Ms(afterData, Stopwatch.GetTimestamp()):F1} ms; JIT-compiled methods {JitInfo.GetCompiledMethodCount(true) - mData}, JIT time {(JitInfo.GetCompilationTime(true) - jData).TotalMilliseconds:F1} ms (gW1[0] = {g.W1[0, 0]:G6})");

if (jitList is not null)
{
    jitList.On = false;
    Thread.Sleep(500); // the listener's events arrive on its own thread
    foreach (var name in jitList.Names) Console.WriteLine("  jitted: " + name);
    if (jitList.TypeNames is not null) File.WriteAllLines(Environment.GetEnvironmentVariable("FAD_TYPES_FILE")!, jitList.TypeNames);
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
    // recorded now, printed after the fresh part: nothing is written to the console inside the timed steps (the
    // console's own start-up would land in the step after the first line)
    steps.Add($"{what,-32} {Ms(t0, now),8:F1} ms  JIT-compiled methods {m - m0,5}  JIT time {(j - j0).TotalMilliseconds,6:F1} ms"
        + (jitList is null ? "" : $"  types loaded {jitList.TypesLoaded - typesBefore,5}"));
    if (jitList is not null) { typesBefore = jitList.TypesLoaded; jitList.TypeNames?.Enqueue("==== after " + what); }
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
    int typesLoaded;
    /// <summary>With FAD_TYPES_FILE set: the names of the types loaded, in order.</summary>
    public readonly System.Collections.Concurrent.ConcurrentQueue<string>? TypeNames = Environment.GetEnvironmentVariable("FAD_TYPES_FILE") is null ? null : new();
    /// <summary>Types the runtime has loaded since the listener started (TypeLoadStop events).</summary>
    public int TypesLoaded => Volatile.Read(ref typesLoaded);
    public readonly System.Collections.Concurrent.ConcurrentQueue<string> Names = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)(0x10 | 0x8000000000)); // JIT, type loads
    }

    /// <summary>Each method's JIT time (from its MethodJittingStarted event to its MethodLoad event), by name.</summary>
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> Ms = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, (string Name, DateTime At)> started = new();

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.Payload is null) return;
        if (e.EventName is "TypeLoadStop")
        {
            Interlocked.Increment(ref typesLoaded);
            if (TypeNames is not null) TypeNames.Enqueue(e.Payload[e.PayloadNames!.IndexOf("TypeName")]?.ToString() ?? "?");
            return;
        }
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
