using System.Linq.Expressions;
using System.Reflection;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// Compiles any expression (original or transformed, e.g. <c>Ad.Grad(loss)</c>) to one delegate of the same
/// signature that runs on a Torch device. Example:
/// <code>
/// var step = TorchJit.Jit(trainStep, TorchBackend.Cpu, donate: 0);   // or trainStep.JitTorch(TorchBackend.Cpu, 0)
/// p = TorchTensors.ToDevice(p, TorchBackend.Cpu);
/// for (int i = 0; i &lt; 1000; i++) p = step(p, xs, ys);                 // no host copies, no leaks, no `using`
/// </code>
/// Each call specialises on the shapes and dtypes of its arguments (compiled once per signature, the last one
/// checked first). Tensor arguments in host memory are uploaded for the call; arguments already on the device
/// are used in place; results stay on the device. Temporaries of a call are freed before it returns. Parameters
/// named in <c>donate</c> have their device memory freed when the call returns (JAX's <c>donate_argnums</c>):
/// a training step that replaces its parameters frees the old ones deterministically.
/// </summary>
public static class TorchJit
{
    /// <summary>Compiles <paramref name="f"/> for <paramref name="backend"/>.</summary>
    /// <typeparam name="TDelegate">A <c>Func&lt;...&gt;</c> over tensors, scalars and pytrees of them.</typeparam>
    /// <param name="f">The function.</param>
    /// <param name="backend">The device it runs on.</param>
    /// <param name="donate">Indices of parameters whose device tensors are freed after each call.</param>
    /// <returns>A delegate of the same signature.</returns>
    public static TDelegate Jit<TDelegate>(Expression<TDelegate> f, TorchBackend backend, params int[] donate) where TDelegate : Delegate
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(backend);
        var program = Reader.Read(f);
        foreach (var d in donate)
            if ((uint)d >= (uint)program.Parameters.Length)
                throw new ArgumentOutOfRangeException(nameof(donate), $"donate names parameter {d}, but the function has {program.Parameters.Length} parameters (0 to {program.Parameters.Length - 1}).");
        var fn = new TorchFunction(program, backend, donate);
        var ps = f.Parameters.Select(p => Expression.Parameter(p.Type, p.Name)).ToArray();
        var leaves = new List<Expression>();
        for (int i = 0; i < ps.Length; i++) program.ParamDefs[i].LeafAccess(ps[i], leaves);
        var call = Expression.Call(Expression.Constant(fn), typeof(TorchFunction).GetMethod(nameof(TorchFunction.Invoke))!,
            Expression.NewArrayInit(typeof(object), leaves.Select(l => Expression.Convert(l, typeof(object)))));
        var outs = Expression.Variable(typeof(object[]), "outs");
        int count = program.OutDef.LeafCount;
        var outLeaves = Enumerable.Range(0, count).Select(i => (Expression)Expression.ArrayIndex(outs, Expression.Constant(i))).ToList();
        int pos = 0;
        var result = program.OutDef.Construct(outLeaves, ref pos);
        var body = Expression.Block(f.ReturnType, [outs], Expression.Assign(outs, call), result);
        return Expression.Lambda<TDelegate>(body, ps).Compile();
    }

    /// <summary>Compiles <paramref name="f"/> for <paramref name="backend"/>: the pipeline form of <see cref="Jit{TDelegate}"/>.</summary>
    /// <typeparam name="TDelegate">A <c>Func&lt;...&gt;</c> over tensors, scalars and pytrees of them.</typeparam>
    /// <param name="f">The function.</param>
    /// <param name="backend">The device it runs on.</param>
    /// <param name="donate">Indices of parameters whose device tensors are freed after each call.</param>
    /// <returns>A delegate of the same signature.</returns>
    public static TDelegate JitTorch<TDelegate>(this Expression<TDelegate> f, TorchBackend backend, params int[] donate) where TDelegate : Delegate =>
        Jit(f, backend, donate);
}

/// <summary>The run-time side of a Torch-jitted function: argument transfer, the per-signature cache, scopes and donation.</summary>
internal sealed class TorchFunction
{
    readonly Program program;
    readonly TorchBackend backend;
    readonly bool[] donatedLeaf;
    readonly string[] paths;
    readonly Kind[] kinds;
    readonly Dictionary<string, TorchCompiler.Compiled> cache = new();
    readonly object gate = new();
    volatile Entry? last;
    NanChecker? nans;
    /// <summary>Signatures compiled so far on this thread (tests check that a steady loop compiles once).</summary>
    [ThreadStatic] internal static long Compiles;

    sealed record Entry(Aval?[] Avals, object?[] Statics, TorchCompiler.Compiled Code);

    public TorchFunction(Program program, TorchBackend backend, int[] donate)
    {
        this.program = program;
        this.backend = backend;
        var info = program.ParamDefs.SelectMany((d, i) => d.LeafInfo(program.Parameters[i].Name ?? $"arg{i}").Select(l => (l.Kind, l.Path, Param: i))).ToArray();
        paths = info.Select(l => l.Path).ToArray();
        kinds = program.Graph.Inputs.Select(n => n.Kind).ToArray();
        donatedLeaf = info.Select(l => donate.Contains(l.Param)).ToArray();
    }

    public object?[] Invoke(object?[] leaves)
    {
        int n = leaves.Length;
        var avals = new Aval?[n];
        var inputs = new object?[n];
        var outs = new object?[program.OutDef.LeafCount];
        using (var scope = torch.NewDisposeScope())
        {
            for (int i = 0; i < n; i++)
            {
                if (kinds[i] != Kind.Tensor) { inputs[i] = leaves[i]; continue; }
                var t = leaves[i] switch
                {
                    Tensor x => x,
                    null => throw new ArgumentNullException(paths[i], $"argument {paths[i]} is null; a Tensor was expected."),
                    var o => throw new ArgumentException($"argument {paths[i]} is a {Printer.TypeName(o.GetType())}, but a Tensor was expected (for an array, new Tensor(values) or Tensor.FromArray(values)).", paths[i]),
                };
                avals[i] = t.Aval;
                if (t.Storage is TorchStorage ts)
                {
                    if (!ts.Backend.Equals(backend))
                        throw new TorchDeviceException(ts.Backend.Name,
                            $"argument {paths[i]} ({t.Aval}) lives on {ts.Backend}, but this function was compiled for {backend}. " +
                            $"Move it first: x.ToDevice(TorchBackend.Parse(\"{backend}\")), or compile the function for {ts.Backend}.");
                    inputs[i] = ts.Value;
                }
                else inputs[i] = HostInput(t);
            }
            var code = Lookup(avals, leaves);
            var raw = code.Run(inputs);
            for (int j = 0; j < raw.Length; j++)
            {
                if (raw[j] is not TT r) { outs[j] = raw[j]; continue; }
                var aval = code.OutAvals[j]!;
                if (!code.OutTyped[j])
                {
                    var type = Lowerings.ScalarOf(aval.DType);
                    if (r.dtype != type) r = r.to_type(type);
                }
                // a result must own its handle: never an argument's, a constant's or another result's
                if (Array.IndexOf(inputs, r) >= 0 || Array.IndexOf(code.Constants, r) >= 0 || Array.IndexOf(outs, r) >= 0 || !scope.Contains(r))
                    r = r.alias();
                outs[j] = r;
            }
            for (int j = 0; j < outs.Length; j++)
                if (outs[j] is TT r)
                {
                    scope.Detach(r);
                    // the dtype and size are the aval's: no round trip to libtorch to read them
                    var aval = code.OutAvals[j]!;
                    outs[j] = Tensor.OnDevice(new TorchStorage(r, backend, aval.DType, aval.Size), aval);
                }
        }
        if (NanDebug.On) (nans ??= new NanChecker(program)).CheckLeaves(leaves, outs, $"TorchJit ({backend})");
        for (int i = 0; i < n; i++)
            if (donatedLeaf[i] && leaves[i] is Tensor { Storage: TorchStorage ts }) ts.Dispose();
        return outs;
    }

    TT HostInput(Tensor t)
    {
        Interlocked.Increment(ref TorchStorage.HostToDevice);
        if (t.IsWeak && t.Rank == 0 && t.ExactScalar is double exact)
            return torch.tensor(exact, torch.ScalarType.Float64, backend.Device);
        var dims = t.Dims.Select(d => (long)d).ToArray();
        return HostCopy.Upload(t.HostArray(), dims, t.DType, backend.Device);
    }

    TorchCompiler.Compiled Lookup(Aval?[] avals, object?[] leaves)
    {
        var e = last;
        if (e is not null && Matches(e, avals, leaves)) return e.Code;
        var statics = Enumerable.Range(0, leaves.Length).Select(i => kinds[i] == Kind.Static ? leaves[i] : null).ToArray();
        var key = string.Join("|", avals.Select((a, i) => a?.ToString() ?? (kinds[i] == Kind.Static ? "s:" + leaves[i] : kinds[i].ToString())));
        EntryChecks.Check(program, avals);   // tangents and cotangents of Jvp / Vjp / Hvp have their primal's shape
        lock (gate)
        {
            if (!cache.TryGetValue(key, out var code))
            {
                using var outer = torch.NewDisposeScope();
                code = TorchCompiler.Compile(program.Graph, avals, backend);
                Interlocked.Increment(ref Compiles);
                cache[key] = code;
            }
            last = new Entry(avals, statics, code);
            return code;
        }
    }

    bool Matches(Entry e, Aval?[] avals, object?[] leaves)
    {
        for (int i = 0; i < avals.Length; i++)
        {
            if (kinds[i] == Kind.Static) { if (!Equals(e.Statics[i], leaves[i])) return false; continue; }
            var a = avals[i];
            if (a is null || ReferenceEquals(a, e.Avals[i])) continue;   // avals are interned: usually the same object
            if (!a.Equals(e.Avals[i])) return false;
        }
        return true;
    }
}
