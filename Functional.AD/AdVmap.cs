using System.Linq.Expressions;

namespace Functional.AD;

public static partial class Ad
{
    /// <summary>
    /// Vectorising map, as <c>jax.vmap</c>: the returned function takes arguments with one more axis (the batch
    /// axis, at <paramref name="inAxes"/>[i] of argument i; <c>null</c> = not batched, the same value for every
    /// example) and returns, for every output, the stack of <c>f</c>'s per-example results along
    /// <paramref name="outAxes"/>. Same C# signature; only shapes change. No loop: every primitive runs once on the
    /// whole batch (<c>Dot</c> becomes a batched product, <c>Where</c> a select over the batch).
    /// <para>An axis given for a pytree argument applies to every Tensor leaf of it; <paramref name="leafAxes"/>
    /// overrides it per leaf, keyed by the leaf's path as errors print it (parameter name, then member names:
    /// <c>"p.W"</c>, <c>"pair.Item2"</c>), so one argument can mix batched and unbatched leaves, or leaves batched
    /// along different axes. <paramref name="outAxes"/> has one entry per output leaf, or one for all;
    /// by default 0 for Tensor leaves (an unbatched Tensor output is broadcast along it) and <c>null</c> for
    /// double/float leaves. Negative axes count from the end. <paramref name="axisSize"/> gives the batch size
    /// when no argument is batched (and is checked against the arguments otherwise).</para>
    /// <para>A double or float cannot carry a batch axis: a batched argument, a value computed from batched data,
    /// or a condition of <c>c ? a : b</c> that is a double fails with a <see cref="VmapException"/> naming it.</para>
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor, Tensor&gt;&gt; dot = (a, b) =&gt; Np.Dot(a, b);
    /// var rows = Ad.Vmap(dot, inAxes: [0, null]);      // a: [B, k], b: [k] -&gt; [B]
    /// </code></example>
    /// <exception cref="VmapException">inAxes or outAxes do not fit, no batch size is known, or a double would be batched.</exception>
    public static Expression<Func<T1, TResult>> Vmap<T1, TResult>(this Expression<Func<T1, TResult>> f, int?[] inAxes, int?[]? outAxes = null, int? axisSize = null, IReadOnlyDictionary<string, int?>? leafAxes = null) =>
        (Expression<Func<T1, TResult>>)VmapCore(f, typeof(Func<T1, TResult>), inAxes, outAxes, axisSize, leafAxes);

    /// <summary>Vectorising map of a function of two arguments (see <see cref="Vmap{T1, TResult}"/>).</summary>
    public static Expression<Func<T1, T2, TResult>> Vmap<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f, int?[] inAxes, int?[]? outAxes = null, int? axisSize = null, IReadOnlyDictionary<string, int?>? leafAxes = null) =>
        (Expression<Func<T1, T2, TResult>>)VmapCore(f, typeof(Func<T1, T2, TResult>), inAxes, outAxes, axisSize, leafAxes);

    /// <summary>Vectorising map of a function of three arguments (see <see cref="Vmap{T1, TResult}"/>).</summary>
    public static Expression<Func<T1, T2, T3, TResult>> Vmap<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f, int?[] inAxes, int?[]? outAxes = null, int? axisSize = null, IReadOnlyDictionary<string, int?>? leafAxes = null) =>
        (Expression<Func<T1, T2, T3, TResult>>)VmapCore(f, typeof(Func<T1, T2, T3, TResult>), inAxes, outAxes, axisSize, leafAxes);

    /// <summary>Vectorising map of a function of four arguments (see <see cref="Vmap{T1, TResult}"/>).</summary>
    public static Expression<Func<T1, T2, T3, T4, TResult>> Vmap<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f, int?[] inAxes, int?[]? outAxes = null, int? axisSize = null, IReadOnlyDictionary<string, int?>? leafAxes = null) =>
        (Expression<Func<T1, T2, T3, T4, TResult>>)VmapCore(f, typeof(Func<T1, T2, T3, T4, TResult>), inAxes, outAxes, axisSize, leafAxes);

    internal static LambdaExpression VmapCore(LambdaExpression f, Type delegateType, int?[] inAxes, int?[]? outAxes, int? axisSize, IReadOnlyDictionary<string, int?>? leafAxes = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inAxes);
        var prog = Reader.Read(f);
        var g = prog.Graph;
        var pnames = prog.Parameters.Select((p, i) => p.Name ?? $"arg{i}").ToArray();
        if (inAxes.Length != pnames.Length)
            throw new VmapException($"Ad.Vmap: inAxes has {inAxes.Length} entries but `{Printer.Expr(f)}` takes {pnames.Length} argument{(pnames.Length == 1 ? "" : "s")} ({string.Join(", ", pnames)}); give one entry per argument (null = not batched).");
        if (axisSize is < 0) throw new VmapException($"Ad.Vmap: axisSize is {axisSize}; it must be non-negative.");

        var b = new Builder();
        var ins = g.Inputs.Select(x => b.InputLike(x)).ToArray();
        var leafAxis = new int?[ins.Length];
        var leafName = new string[ins.Length];
        int pos = 0;
        for (int i = 0; i < pnames.Length; i++)
            foreach (var (kind, type, path) in prog.ParamDefs[i].LeafInfo(pnames[i]))
            {
                leafName[pos] = path;
                int? axis = leafAxes is not null && leafAxes.TryGetValue(path, out var la) ? la : inAxes[i];
                if (axis is int sax && kind == Kind.Static)
                    throw new VmapException($"Ad.Vmap: inAxes maps axis {sax} of `{path}`, but it is a {Printer.TypeName(type)}, a static value (one for the whole batch, not per example), and a {Printer.TypeName(type)} cannot carry a batch axis; give null for it in inAxes (or in leafAxes), or pass a Tensor.");
                if (axis is int ax)
                {
                    if (kind != Kind.Tensor)
                        throw new VmapException($"Ad.Vmap: inAxes maps axis {ax} of argument `{path}`, but it is a {Printer.TypeName(type)}, and a {Printer.TypeName(type)} cannot carry a batch axis; pass a Tensor (or give null in inAxes).");
                    leafAxis[pos] = ax;
                }
                pos++;
            }
        if (leafAxes is not null && leafAxes.Keys.FirstOrDefault(k => !leafName.Contains(k)) is { } unknown)
            throw new VmapException($"Ad.Vmap: leafAxes names `{unknown}`, which is not a leaf of `{Printer.Expr(f)}`; its leaves are {string.Join(", ", leafName.Select(n => $"`{n}`"))}.");
        var mapped = Enumerable.Range(0, ins.Length).Where(i => leafAxis[i] is not null).ToArray();
        if (mapped.Length == 0 && axisSize is null)
            throw new VmapException($"Ad.Vmap: no argument of `{Printer.Expr(f)}` is batched (inAxes is [{string.Join(", ", inAxes.Select(a => a?.ToString() ?? "null"))}]) and no axisSize is given, so the batch size is unknown; map an argument's axis or pass axisSize.");

        // the checked batch size comes first, so mismatched arguments fail there, naming both
        var size = b.Apply(Prims.VmapSize, mapped.Select(i => ins[i]).ToArray(),
            new Params(mapped.Select(i => leafName[i]).ToArray(), mapped.Select(i => leafAxis[i]!.Value).ToArray(), axisSize), null, 0);
        var batched = new HashSet<Node>(RefEq<Node>.Instance);
        var moved = ins.Select((x, i) =>
        {
            if (leafAxis[i] is not int ax) return x;
            var m = b.Apply(Prims.MoveAxisToFront, [x], new Params(ax), null, 0);
            batched.Add(m);
            return m;
        }).ToArray();
        var outs = Functional.AD.Vmap.Run(b, g, moved, batched);

        var outInfo = prog.OutDef.LeafInfo("result").ToArray();
        if (outAxes is not null && outAxes.Length != 1 && outAxes.Length != outs.Length)
            throw new VmapException($"Ad.Vmap: outAxes has {outAxes.Length} entries but `{Printer.Expr(f)}` returns {outs.Length} leaves ({string.Join(", ", outInfo.Select(o => o.Path))}); give one entry per output leaf, or one for all.");
        var finals = new Node[outs.Length];
        for (int j = 0; j < outs.Length; j++)
        {
            var y = outs[j];
            var (kind, type, path) = outInfo[j];
            int? ax = outAxes is null ? (kind == Kind.Tensor ? 0 : null) : outAxes.Length == 1 ? outAxes[0] : outAxes[j];
            if (kind == Kind.Static) { finals[j] = y; continue; }
            if (ax is null)
            {
                if (batched.Contains(y))
                    throw new VmapException($"Ad.Vmap: output leaf `{path}` depends on the batched arguments, but outAxes gives it null (not batched); give it an axis.");
                finals[j] = y;
                continue;
            }
            if (kind != Kind.Tensor)
                throw new VmapException($"Ad.Vmap: outAxes gives output leaf `{path}` axis {ax}, but it is a {Printer.TypeName(type)}, and a {Printer.TypeName(type)} cannot carry a batch axis; return a Tensor (or give null in outAxes).");
            if (!batched.Contains(y)) y = b.Apply(Prims.AddBatchAxis, [y], null, null, 0);
            y = b.Apply(Prims.BroadcastBatch, [y, size], null, null, 0);
            finals[j] = b.Apply(Prims.MoveAxisFromFront, [y], new Params(ax.Value), null, 0);
        }
        var graph = b.Finish(finals);
        var program = new Program { Graph = graph, Parameters = prog.Parameters, ParamDefs = prog.ParamDefs, OutDef = prog.OutDef, ReturnType = prog.ReturnType };
        var lambda = EntryChecks.Wrap(Writer.Write(graph, prog.Parameters, prog.ParamDefs, prog.OutDef, delegateType), program);
        Reader.Remember(lambda, program);
        return lambda;
    }
}
