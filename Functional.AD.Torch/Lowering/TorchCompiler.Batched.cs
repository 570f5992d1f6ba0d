using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// Batched nodes (<see cref="Node.Batch"/> &gt; 0, written by <c>Ad.Vmap</c>): the first k axes of each operand are
/// batch axes and the primitive acts on the rest. A batched node never gets the unbatched lowering: it gets a
/// vectorised plan (<see cref="BatchedLowerings"/>) or, for the primitives without one, the CPU batched
/// implementation on host copies of its operands (each download and upload counted in <see cref="TorchStorage"/>).
/// </summary>
internal sealed partial class TorchCompiler
{
    /// <summary>Batched nodes that ran through the host on this thread (tests check which primitives are vectorised).</summary>
    [ThreadStatic] internal static long HostFallbacks;

    /// <summary>The code of a batched node, or null where the ordinary path already has batched semantics (scalar reads).</summary>
    (Expression, Aval?)? EmitBatched(Node n, TorchLowering lowering, Expression[] args, Aval?[] argAvals, Kind[] kinds)
    {
        var p = n.Op;
        int k = n.Batch;
        var inAvals = argAvals.Select((a, i) => a ?? (kinds[i] is Kind.Double or Kind.Float ? ScalarAval(kinds[i]) : null)).ToArray();
        // the core's batched shape rule: it runs the CPU batched implementation on zeros once, so every check
        // (and its message) is the CPU backend's, at compile time
        var outAval = Rt.InferAval(p, n.Params, kinds, inAvals!, k);
        if (lowering is ReadScalar) return null;   // checked above: the batch axes have size 1
        if (n.Kind != Kind.Tensor)
            throw new NotSupportedException($"Primitive {p.Name} at batch count {k} gives a {n.Kind}, which the Torch backend cannot batch.");

        var operands = args.Select((a, i) => kinds[i] switch
        {
            Kind.Tensor => a,
            Kind.Double => Expression.Call(ScalarMethod, a, Expression.Constant(backend), Expression.Constant(false)),
            Kind.Float => Expression.Call(ScalarMethod, Expression.Convert(a, typeof(double)), Expression.Constant(backend), Expression.Constant(true)),
            _ => (Expression)Expression.Constant(null, typeof(TT)),
        }).ToArray();
        var outType = Lowerings.ScalarOf(outAval.DType);
        var name = p.Name;

        if (lowering is TensorOp { Batched: { } rule } op
            && rule(new BatchCtx { P = p, Op = op, K = k, Kinds = kinds, In = inAvals!, Params = n.Params, Out = outAval, Device = backend.Device }) is { } plan)
        {
            var skip = p.NonDiff;
            var run = plan.Run;
            bool elementwise = plan.Elementwise;
            Func<TT?[], TT> closure = x =>
            {
                CastOperands(x, elementwise, skip, inAvals!, outAval, outType);
                return Checked(run(x), outAval, outType, name, k);
            };
            return (Expression.Invoke(Expression.Constant(closure), Expression.NewArrayInit(typeof(TT), operands)), outAval);
        }

        // the CPU batched implementation on host copies: correct for every primitive, at two copies per operand and result
        var prm = n.Params;
        var device = backend.Device;
        Func<object?[], TT> host = xs =>
        {
            Interlocked.Increment(ref HostFallbacks);
            var objs = new object[xs.Length];
            for (int i = 0; i < xs.Length; i++) objs[i] = xs[i] is TT t ? Download(t, inAvals[i]!) : xs[i]!;
            var r = (Tensor)Vmapped.Run(p, prm, k, objs);
            return Checked(UploadTemp(r, device), outAval, outType, name, k);
        };
        var boxed = args.Select((a, i) => Expression.Convert(a, typeof(object)));
        return (Expression.Invoke(Expression.Constant(host), Expression.NewArrayInit(typeof(object), boxed)), outAval);
    }

    static TT Checked(TT r, Aval outAval, torch.ScalarType outType, string name, int k)
    {
        if (r.dim() != outAval.Rank || !SameShape(r, outAval))
            throw new InvalidOperationException($"Internal error: the batched Torch lowering of {name} (batch count {k}) gave shape [{string.Join(",", r.shape)}], not {outAval}.");
        return !outAval.Weak && r.dtype != outType ? r.to_type(outType) : r;
    }

    /// <summary>A device tensor copied to host memory as a tensor of <paramref name="aval"/> (one counted copy).</summary>
    static Tensor Download(TT t, Aval aval)
    {
        var c = t.to_type(Lowerings.ScalarOf(aval.DType)).cpu().contiguous();
        Interlocked.Increment(ref TorchStorage.DeviceToHost);
        TensorStorage s = aval.DType == DType.Float64 ? new ManagedStorage(c.data<double>().ToArray()) : new ManagedStorage(c.data<float>().ToArray());
        return new Tensor(s, aval.Dims, aval.Weak);
    }

    /// <summary>A host tensor copied to the device as a temporary of the current call (one counted copy).</summary>
    static TT UploadTemp(Tensor r, torch.Device device)
    {
        Interlocked.Increment(ref TorchStorage.HostToDevice);
        var dims = r.Dims.Select(d => (long)d).ToArray();
        return r.DType == DType.Float64
            ? torch.tensor(r.ToDoubleArray(), dims, torch.ScalarType.Float64, device)
            : torch.tensor(r.ToDoubleArray().Select(v => (float)v).ToArray(), dims, torch.ScalarType.Float32, device);
    }

    /// <summary>
    /// The output aval of a conditional that Vmap batched (an unbatched condition, batched values in a branch): its
    /// branches may differ only in leading (batch) axes of size 1, which are broadcast. Null when this does not apply.
    /// </summary>
    static Aval? BatchedBranches(Node n, Aval a, Aval b)
    {
        if (a.Rank != b.Rank || a.Rank == 0 || a.Dims.AsSpan().SequenceEqual(b.Dims)) return null;
        if (!n.Subgraphs.Any(g => g.Nodes.Any(x => x.Batch > 0 || Lowerings.Of(x.Op).AddsBatchAxis))) return null;
        int lead = 0;
        while (lead < a.Rank && a.Dims[lead] != b.Dims[lead]) lead++;
        if (!a.Dims.AsSpan(lead).SequenceEqual(b.Dims.AsSpan(lead))) return null;
        for (int i = 0; i < lead; i++) if (a.Dims[i] != 1 && b.Dims[i] != 1) return null;
        var dims = a.Dims.Select((d, i) => Math.Max(d, b.Dims[i])).ToArray();
        return Join(n, new Aval(dims, a.DType, a.Weak), new Aval(dims, b.DType, b.Weak));
    }

    /// <summary>
    /// <c>c ? a : b</c> with batched branches: both are brought to one batched shape (cores aligned by size-1 axes, batch
    /// axes broadcast; their per-example shapes must agree, as unbatched) and the host condition picks one.
    /// </summary>
    (Expression, Aval?) EmitBatchedSelect(Node n, Expression[] args, Aval?[] argAvals)
    {
        int k = n.Batch;
        var kinds = n.Args.Select(a => a.Kind).ToArray();
        var br = new[] { argAvals[1] ?? ScalarAval(kinds[1]), argAvals[2] ?? ScalarAval(kinds[2]) };
        int rank = br.Select(a => Vmapped.Split(a.Dims, k).Core.Length).Max();
        var aligned = br.Select(a => { var (b, c) = Vmapped.Split(a.Dims, k); return (B: b, C: (int[])[.. Enumerable.Repeat(1, rank - c.Length), .. c]); }).ToArray();
        var batch = Enumerable.Range(0, k).Select(i => Math.Max(aligned[0].B[i], aligned[1].B[i])).ToArray();
        var full = br.Select((a, j) => new Aval([.. batch, .. aligned[j].C], a.DType, a.Weak)).ToArray();
        var outAval = Join(n, full[0], full[1]);
        var type = Lowerings.ScalarOf(outAval.DType);
        Expression Fit(int j)
        {
            var shape = Lowerings.Longs([.. aligned[j].B, .. aligned[j].C]);
            var target = Lowerings.Longs(outAval.Dims);
            var e = kinds[j + 1] switch
            {
                Kind.Tensor => args[j + 1],
                Kind.Float => Expression.Call(ScalarMethod, Expression.Convert(args[j + 1], typeof(double)), Expression.Constant(backend), Expression.Constant(true)),
                _ => Expression.Call(ScalarMethod, args[j + 1], Expression.Constant(backend), Expression.Constant(false)),
            };
            Func<TT, TT> fit = t => (t.dtype == type ? t : t.to_type(type)).reshape(shape).expand(target);
            return Expression.Invoke(Expression.Constant(fit), e);
        }
        return (Expression.Condition(args[0], Fit(0), Fit(1)), outAval);
    }
}
