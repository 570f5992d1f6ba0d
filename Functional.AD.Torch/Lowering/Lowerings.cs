using System.Linq.Expressions;
using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>What a lowering is given: the avals of the operands and the output (shapes are concrete), the static parameters and the device.</summary>
internal sealed class LowerCtx
{
    /// <summary>Operand avals (for an aval operand: the aval it carries; scalars: float64[] / float32[]).</summary>
    public required Aval[] In;
    /// <summary>The output aval.</summary>
    public required Aval Out;
    public required Params P;
    public required Device Device;

    public ScalarType OutType => Lowerings.ScalarOf(Out.DType);
    /// <summary>The output's shape as libtorch takes it (made once per compiled node, not per call).</summary>
    public long[] OutDims => outDims ??= Lowerings.Longs(Out.Dims);
    long[]? outDims;
    public int Axis(int axis, int rank) => axis < 0 ? axis + rank : axis;
}

/// <summary>
/// How a primitive runs on the Torch backend: one entry per primitive in <see cref="Lowerings.Table"/>. The entry carries
/// all the Torch backend knows about its primitive; the compiler dispatches on the entry, never on the primitive.
/// </summary>
internal abstract record TorchLowering
{
    /// <summary>
    /// The primitive gives a batched value from an unbatched one (a size-1 batch axis in front): a conditional with it in
    /// a branch was batched by Vmap, and its branches may differ in leading size-1 axes.
    /// </summary>
    public bool AddsBatchAxis { get; init; }
}

/// <summary>The code of one node, emitted by the compiler itself: the expression and the aval of its value (null when it has none).</summary>
internal delegate (Expression Code, Aval? Aval) NodeEmitter(TorchCompiler c, Node n, Expression[] args, Aval?[] argAvals);

/// <summary>
/// A tensor-valued primitive: a function of libtorch tensors. Operands arrive cast to their aval's dtype (an
/// elementwise primitive's operands, to the output's dtype); an aval operand arrives as null (see <see cref="LowerCtx.In"/>).
/// The result may have any dtype and a shape equal to the output's; the compiler casts it. A batched node never reaches
/// an entry: the compiler first rewrites it into unbatched primitives (<c>Unbatch</c>, from the primitive's batching rule).
/// </summary>
internal sealed record TensorOp(Func<LowerCtx, TT?[], TT> Run, bool Elementwise = false) : TorchLowering
{
    /// <summary>
    /// When the first operand is a C# <c>bool</c> (a host condition, not a tensor mask), the node is emitted by this
    /// instead of <see cref="Run"/> (at any batch count).
    /// </summary>
    public NodeEmitter? OnHostBool { get; init; }

    /// <summary>
    /// The value depends on the avals only (zeros, ones, the gradient seed): it is made once when compiling, held with
    /// the constants, and costs no libtorch call per call. No lowering writes into its operands, so sharing it is safe.
    /// </summary>
    public bool Fixed { get; init; }
}

/// <summary>A tensor read into a C# scalar on the host (a device-to-host copy of one element); on a batched node, the same read (its batch axes have size 1).</summary>
internal sealed record ReadScalar(Func<TT, object> Run, Type Result) : TorchLowering;

/// <summary>A primitive that only ever has scalar (<c>double</c>, <c>float</c>, <c>bool</c>) operands: the core's C# code runs on the host.</summary>
internal sealed record HostScalar : TorchLowering;

/// <summary>A primitive whose value is an aval, known at compile time: <see cref="Compute"/> gives it from the node and its operands' avals.</summary>
internal sealed record AvalValued(Func<Node, Aval?[], Kind[], Aval> Compute) : TorchLowering;

/// <summary>
/// Emitted by the compiler itself (inputs, constants, conditionals, loops, custom rules): <see cref="Emit"/> writes the
/// node's code, whatever its operands; <see cref="How"/> says how, for a reader of the table.
/// </summary>
internal sealed record Structural(string How, NodeEmitter Emit) : TorchLowering;

/// <summary>
/// The Torch column of the primitive table: one entry per primitive of <c>Prims.All</c>, keyed by the primitive. This
/// is the only place the Torch assembly names a primitive: an entry carries everything about it (its libtorch code, its
/// batched rule, its emitter when the compiler writes it itself), and the compiler dispatches on the entry.
/// Scalar operands of any primitive (C# <c>double</c> code) run on the host through the core's own code.
/// </summary>
internal static partial class Lowerings
{
    /// <summary>libtorch's own dtype for each dtype: every dtype maps to one (halves are native on Torch).</summary>
    public static ScalarType ScalarOf(DType d) => d switch
    {
        DType.Float64 => ScalarType.Float64,
        DType.Float32 => ScalarType.Float32,
        DType.Int32 => ScalarType.Int32,
        DType.Int64 => ScalarType.Int64,
        DType.Bool => ScalarType.Bool,
        DType.Float16 => ScalarType.Float16,
        DType.BFloat16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "not a dtype"),
    };

    /// <summary>The dtype of a libtorch dtype, or a clear error for the ones this library has no dtype for.</summary>
    public static DType DTypeOf(ScalarType t) => t switch
    {
        ScalarType.Float64 => DType.Float64,
        ScalarType.Float32 => DType.Float32,
        ScalarType.Int32 => DType.Int32,
        ScalarType.Int64 => DType.Int64,
        ScalarType.Bool => DType.Bool,
        ScalarType.Float16 => DType.Float16,
        ScalarType.BFloat16 => DType.BFloat16,
        _ => throw new NotSupportedException($"a libtorch {t} tensor has no Functional.AD dtype; convert it first (to float32, float64, float16, bfloat16, int32, int64 or bool)"),
    };

    /// <summary>Whether the dtype is an integer one (integer arithmetic: division and remainder truncate, as C# does).</summary>
    static bool IsInt(LowerCtx c) => DTypes.IsInteger(c.Out.DType);
    public static long[] Longs(int[] dims) => dims.Select(d => (long)d).ToArray();
    static long[] Longs(IReadOnlyList<int> dims) => dims.Select(d => (long)d).ToArray();

    static TensorOp Ew(Func<TT, TT> f) => EwOp((c, x) => f(x[0]!));
    static TensorOp Ew(Func<TT, TT, TT> f) => EwOp((c, x) => f(x[0]!, x[1]!));
    static TensorOp EwOp(Func<LowerCtx, TT?[], TT> f) => new(f, Elementwise: true);
    static TensorOp Op(Func<LowerCtx, TT?[], TT> f) => new(f);

    /// <summary>The aval of a node as the core's shape rule gives it (at the node's batch count).</summary>
    internal static Aval CoreAval(Node n, Aval?[] argAvals, Kind[] kinds) => Rt.InferAval(n.Op, n.Params, kinds, argAvals.Select(a => a!).ToArray(), n.Batch);

    /// <summary>The entry of <paramref name="p"/>, or a clear error when the Torch backend has none.</summary>
    public static TorchLowering Of(Primitive p) =>
        Table.TryGetValue(p, out var lowering) ? lowering : throw new NotSupportedException($"Primitive {p.Name} has no Torch lowering.");

    static TT Mask(LowerCtx c, TT b) => b.to_type(c.OutType);

    /// <summary>
    /// Sums <paramref name="x"/>, of shape <paramref name="dims"/> (known when compiling), down to <paramref name="target"/>
    /// (leading axes and axes where the target has size 1), as Lax.SumTo. The result has the target's shape without a
    /// reshape, and a value already of that shape is returned as it is: no libtorch call, and no call to read a shape.
    /// </summary>
    static TT SumToDims(TT x, int[] dims, int[] target)
    {
        if (dims.AsSpan().SequenceEqual(target)) return x;
        int lead = dims.Length - target.Length;
        if (lead > 0) x = x.sum(Enumerable.Range(0, lead).Select(i => (long)i).ToArray(), keepdim: false);
        var axes = new List<long>();
        for (int i = 0; i < target.Length; i++) if (target[i] == 1 && dims[lead + i] != 1) axes.Add(i);
        if (axes.Count > 0) x = x.sum(axes.ToArray(), keepdim: true);
        return x;
    }

    /// <summary><paramref name="x"/> (of shape <paramref name="from"/>, known when compiling) reshaped to <paramref name="to"/>; itself when the shapes agree (no libtorch call).</summary>
    static TT Reshaped(TT x, ReadOnlySpan<long> from, long[] to) => from.SequenceEqual(to) ? x : x.reshape(to);

    static TT Reshaped(TT x, int[] from, long[] to)
    {
        if (from.Length == to.Length)
        {
            int i = 0;
            while (i < from.Length && from[i] == to[i]) i++;
            if (i == from.Length) return x;
        }
        return x.reshape(to);
    }

    /// <summary>Shape of a reduction's input with the reduced axes kept as size 1.</summary>
    static long[] KeptShape(Aval input, int? axis)
    {
        var d = Longs(input.Dims);
        if (axis is int a) d[a < 0 ? a + d.Length : a] = 1;
        else for (int i = 0; i < d.Length; i++) d[i] = 1;
        return d;
    }

    /// <summary>A reduction over one axis (dropped) or all; reshaped only when the output keeps the reduced axes (known when compiling).</summary>
    static TT Reduce(LowerCtx c, TT x, Func<TT, long, TT> byAxis, Func<TT, TT> all)
    {
        int? axis = c.P.Get<int?>(0);
        if (axis is int a)
        {
            int ax = c.Axis(a, c.In[0].Rank);
            var dropped = c.In[0].Dims.Where((_, i) => i != ax).Select(d => (long)d).ToArray();
            return Reshaped(byAxis(x, ax), dropped, c.OutDims);
        }
        return Reshaped(all(x), ReadOnlySpan<long>.Empty, c.OutDims);
    }

    /// <summary>
    /// Indices as int64, negatives wrapped, checked as the CPU path checks them (integral, within -n .. n-1): one
    /// host read per call, so an out-of-range index is an ArgumentOutOfRangeException naming it, not a libtorch error.
    /// </summary>
    static TT Indices(TT idx, long n, string op, Aval x, int axis)
    {
        var f = idx.flatten();
        if (f.dtype == ScalarType.Bool) f = f.to_type(ScalarType.Int64);
        bool integral = f.dtype is ScalarType.Int32 or ScalarType.Int64;
        if (integral && f.numel() > 0)
        {
            using var scope = torch.NewDisposeScope();
            var bad = f.lt(-n).logical_or(f.ge(n));
            if (bad.any().item<bool>())
            {
                long d = f.masked_select(bad)[0].to_type(ScalarType.Int64).item<long>();
                throw new ArgumentOutOfRangeException("indices", $"{op}: index {d} is out of range for axis {axis} of size {n} (x: {x}); accepted indices are {-n} .. {n - 1}");
            }
        }
        else if (f.numel() > 0)
        {
            using var scope = torch.NewDisposeScope();
            var bad = f.isnan().logical_or(f.ne(f.floor())).logical_or(f.lt(-n)).logical_or(f.ge(n));
            if (bad.any().item<bool>())
            {
                double d = f.masked_select(bad)[0].to_type(ScalarType.Float64).item<double>();
                if (double.IsNaN(d) || d != Math.Floor(d))
                    throw new ArgumentException($"{op}: indices must hold integral values; found {d} (indices of shape [{string.Join(",", idx.shape)}])", "indices");
                throw new ArgumentOutOfRangeException("indices", $"{op}: index {d} is out of range for axis {axis} of size {n} (x: {x}); accepted indices are {-n} .. {n - 1}");
            }
        }
        var i = f.to_type(ScalarType.Int64);
        return torch.where(i.lt(0), i + n, i);
    }

    static (int Axis, long Offset, long Length) Block(LowerCtx c, Aval[] parts, int rank)
    {
        int ax = c.Axis(c.P.Get<int>(0), rank), index = c.P.Get<int>(1);
        long off = 0;
        for (int i = 0; i < index; i++) off += parts[i].Dims[ax];
        return (ax, off, parts[index].Dims[ax]);
    }

    /// <summary>The products' transposes: g @ other^T (forA) or a^T @ g, rank-1 operands promoted, batch axes summed to the target aval.</summary>
    static TT MatMulT(LowerCtx c, TT g, TT other, Aval otherAval, Aval target, bool forA)
    {
        var (aAval, bAval) = forA ? (target, otherAval) : (otherAval, target);
        long[] ad = aAval.Rank == 1 ? [1, aAval.Dims[0]] : Longs(aAval.Dims);
        long[] bd = bAval.Rank == 1 ? [bAval.Dims[0], 1] : Longs(bAval.Dims);
        var batch = BroadcastBatch(ad[..^2], bd[..^2]);
        long m = ad[^2], n = bd[^1];
        // every shape is known when compiling: reshapes that change nothing are not made (each is a libtorch call)
        var gg = Reshaped(g, Longs((forA ? c.In[0] : c.In[1]).Dims), [.. batch, m, n]);
        var o = Reshaped(other, Longs(otherAval.Dims), forA ? bd : ad);
        TT full = forA ? torch.matmul(gg, o.transpose(-1, -2)) : torch.matmul(o.transpose(-1, -2), gg);
        // full: [batch.., m, k] (forA) or [batch.., k, n]
        long[] fullDims = forA ? [.. batch, m, bd[^2]] : [.. batch, ad[^1], n];
        var own = (forA ? ad : bd).Select(d => (int)d).ToArray();
        var summed = SumToDims(full, fullDims.Select(d => (int)d).ToArray(), own);
        return Reshaped(summed, own, Longs(target.Dims));
    }

    static long[] BroadcastBatch(long[] a, long[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            long x = i - (n - a.Length) >= 0 ? a[i - (n - a.Length)] : 1, y = i - (n - b.Length) >= 0 ? b[i - (n - b.Length)] : 1;
            r[i] = Math.Max(x, y);
        }
        return r;
    }

    /// <summary>The sizes of a gather with shared leading axes: x [B.., outer.., n, inner..], indices [B.., j..].</summary>
    static (long Nb, long Outer, long N, long Inner, long J, int Axis) GatherDims(Aval x, Aval indices, Params p)
    {
        int k = p.Get<int>(1);
        var cx = x.Dims[k..];
        int ax = p.Get<int>(0) < 0 ? p.Get<int>(0) + cx.Length : p.Get<int>(0);
        return (Kernels.Product(x.Dims[..k]), Kernels.Product(cx, 0, ax), cx[ax], Kernels.Product(cx, ax + 1), Kernels.Product(indices.Dims[k..]), ax);
    }

    static TT Zeros(LowerCtx c) => torch.zeros(c.OutDims, c.OutType, c.Device);

    /// <summary>The table. A test fails when a primitive of <c>Prims.All</c> has no entry.</summary>
    public static readonly IReadOnlyDictionary<Primitive, TorchLowering> Table = WithIndexing(With(ContractionsAndSorting, With(CumulativeVocabulary, With(ReductionVocabulary, With(PoolLowerings.Entries, WithShapeVocabulary(WithElementwiseVocabulary(new Dictionary<Primitive, TorchLowering>
    {
        // structure: the compiler binds inputs, uploads constants once, and knows every aval at compile time
        [Prims.Input] = new Structural("bound to the call's arguments before the graph is lowered",
            (c, n, _, _) => throw new InvalidOperationException($"Internal error: input {n} is not bound to an argument.")),
        [Prims.Const] = new Structural("uploaded to the device once per compiled signature", (c, n, _, _) => c.Constant(n)),
        [Prims.AvalOf] = new AvalValued((n, a, _) => a[0]!),
        [Prims.InferAval] = new AvalValued((n, a, _) => Rt.InferAval((Primitive)n.Params[0]!, (Params)n.Params[1]!, (Kind[])n.Params[2]!,
            a.Select(x => x!).ToArray(), n.Params.Count > 3 ? (int)n.Params[3]! : 0)),
        [Prims.Cond] = new Structural("both branches are lowered; the host condition picks one", (c, n, a, av) => c.EmitCond(n, a, av)),
        [Prims.Scan] = new Structural("a loop on the host (forwards or backwards) around the lowered body; the ys stacked on the device; the results an object[]", (c, n, a, av) => c.EmitScanLoop(n, a, av)),
        [Prims.SegmentAval] = new AvalValued((n, a, _) => ScanRules.SegmentAvalAt(a[0]!, n.Params.Get<int>(0), n.Params.Get<int>(1), n.Batch)),
        [Prims.Proj] = new Structural("one element of a multi-result node's object[]", (c, n, a, av) => c.EmitProj(n, a)),
        [Prims.Pack] = new Structural("an object[] of its operands", (c, n, a, av) => c.EmitPack(n, a, av)),
        [Prims.While] = new Structural("a loop on the host around the lowered condition and body, the condition read back once per trip; ys stacked on the device, their length known at run time", (c, n, a, av) => c.EmitWhileLoop(n, a, av)),
        [Prims.Custom] = new Structural("a function with a custom rule: its body (the sub-graph) is lowered in place", (c, n, a, av) => c.EmitInline(n.Subgraphs[0], a, av)),
        [Prims.CustomVjpTangent] = new Structural("forward mode through a custom VJP: the core's error, raised at compile time",
            (c, n, a, _) => (n.Op.Emit(a, n.Args.Select(x => x.Kind).ToArray(), n.Params, n.Subgraphs), null)),
        // identity; the shape check against the aval already ran at compile time, in the aval rule
        [Prims.CheckAval] = Op((c, x) => x[0]!),
        [Prims.IntToDouble] = new HostScalar(),

        [Prims.Zeros] = Op((c, x) => Zeros(c)) with { Fixed = true },
        [Prims.Ones] = Op((c, x) => torch.ones(c.OutDims, c.OutType, c.Device)) with { Fixed = true },
        // the shape check (a scalar output) already ran at compile time, in the aval rule
        [Prims.GradSeed] = Op((c, x) => torch.ones(c.OutDims, c.OutType, c.Device)) with { Fixed = true },

        // arithmetic
        [Prims.Add] = Ew((a, b) => a + b),
        [Prims.Sub] = Ew((a, b) => a - b),
        [Prims.Mul] = Ew((a, b) => a * b),
        // C#'s integer division truncates toward zero (libtorch's / divides exactly)
        [Prims.Div] = EwOp((c, x) => IsInt(c) ? x[0]!.div(x[1]!, rounding_mode: RoundingMode.trunc) : x[0]! / x[1]!),
        // C#'s % is truncated, with the sign of the dividend: libtorch's fmod (its remainder is floored)
        [Prims.Remainder] = Ew((a, b) => a.fmod(b)),
        [Prims.Neg] = Ew(a => -a),

        // elementwise functions
        [Prims.Exp] = Ew(a => a.exp()),
        [Prims.Log] = Ew(a => a.log()),
        [Prims.Tanh] = Ew(a => a.tanh()),
        [Prims.Sin] = Ew(a => a.sin()),
        [Prims.Cos] = Ew(a => a.cos()),
        [Prims.Sqrt] = Ew(a => a.sqrt()),
        [Prims.Abs] = Ew(a => a.abs()),
        [Prims.Sign] = Ew(a => a.sign()),
        [Prims.Sigmoid] = Ew(a => a.sigmoid()),
        // max(x, 0) + log1p(e^-|x|), as the eager kernel (torch's softplus switches to x above a threshold)
        [Prims.Softplus] = Ew(a => a.relu() + a.abs().neg().exp().log1p()),
        [Prims.Relu] = Ew(a => a.relu()),
        [Prims.Pow] = Ew((a, b) => a.pow(b)),
        [Prims.Maximum] = Ew((a, b) => torch.maximum(a, b)),
        [Prims.Minimum] = Ew((a, b) => torch.minimum(a, b)),
        [Prims.Log1p] = Ew(a => a.log1p()),
        [Prims.Expm1] = Ew(a => a.expm1()),
        [Prims.Erf] = Ew(a => a.erf()),
        [Prims.Atan] = Ew(a => a.atan()),
        [Prims.Square] = Ew(a => a.square()),
        [Prims.Clip] = EwOp((c, x) => torch.minimum(torch.maximum(x[0]!, x[1]!), x[2]!)),

        // comparisons give 0/1 masks in the promoted dtype; on scalars they are host code
        [Prims.Greater] = EwOp((c, x) => Mask(c, x[0]!.gt(x[1]!))),
        [Prims.Less] = EwOp((c, x) => Mask(c, x[0]!.lt(x[1]!))),
        [Prims.GreaterEqual] = EwOp((c, x) => Mask(c, x[0]!.ge(x[1]!))),
        [Prims.LessEqual] = EwOp((c, x) => Mask(c, x[0]!.le(x[1]!))),
        [Prims.Equal] = EwOp((c, x) => Mask(c, x[0]!.eq(x[1]!))),
        [Prims.NotEqual] = EwOp((c, x) => Mask(c, x[0]!.ne(x[1]!))),
        // on C# bools (host conditions) the core's code runs on the host; on tensors, libtorch's logical operators
        [Prims.And] = Ew((a, b) => a.logical_and(b)),
        [Prims.Or] = Ew((a, b) => a.logical_or(b)),
        [Prims.Not] = Ew(a => a.logical_not()),
        // a tensor mask selects elementwise (non-zero and NaN pick a); a C# bool condition picks one branch on the host
        [Prims.Where] = EwOp((c, x) => torch.where(x[0]!.ne(0), x[1]!, x[2]!)) with { OnHostBool = (c, n, a, av) => c.EmitSelect(n, a, av) },

        // products
        // convolutions (ConvLowerings.cs): libtorch's convolution, its transposed convolution, and its weight backward
        [Prims.Conv] = ConvLowerings.Conv,
        [Prims.ConvTransposeLhs] = ConvLowerings.TransposeLhs,
        [Prims.ConvTransposeRhs] = ConvLowerings.TransposeRhs,
        [Prims.Dot] = Op((c, x) => c.In[0].Rank == 0 || c.In[1].Rank == 0 ? x[0]! * x[1]! : torch.matmul(x[0]!, x[1]!)),
        [Prims.DotTA] = Op((c, x) => (c.In[0].Rank, c.In[1].Rank) switch
        {
            (0, _) => x[0]! * x[1]!,
            (1, 2) => torch.mv(x[1]!, x[0]!),
            (1, 1) => torch.outer(x[0]!, x[1]!),
            _ => torch.matmul(x[0]!, x[1]!.t()),
        }),
        [Prims.DotTB] = Op((c, x) => (c.In[0].Rank, c.In[1].Rank) switch
        {
            (_, 0) => x[0]! * x[1]!,
            (1, 1) => torch.outer(x[0]!, x[1]!),
            _ => torch.matmul(x[0]!.t(), x[1]!),
        }),
        [Prims.MatMul] = Op((c, x) => torch.matmul(x[0]!, x[1]!)),
        [Prims.MatMulTA] = Op((c, x) => MatMulT(c, x[0]!, x[1]!, c.In[1], c.In[2], forA: true)),
        [Prims.MatMulTB] = Op((c, x) => MatMulT(c, x[1]!, x[0]!, c.In[0], c.In[2], forA: false)),

        // shapes: the output aval gives the target shape
        [Prims.Transpose] = Op((c, x) =>
        {
            int r = c.In[0].Rank;
            var perm = c.P.Get<int[]?>(0) ?? Enumerable.Range(0, r).Reverse().ToArray();
            return x[0]!.permute(perm.Select(a => (long)c.Axis(a, r)).ToArray());
        }),
        [Prims.Reshape] = Op((c, x) => Reshaped(x[0]!, c.In[0].Dims, c.OutDims)),
        // Jacobian layouts: the output aval gives every shape
        [Prims.Basis] = Op((c, x) => torch.eye(c.Out.Shape[0], dtype: c.OutType, device: c.Device).reshape(c.OutDims)),
        [Prims.ColumnsToJacobian] = Op((c, x) => x[0]!.reshape(c.OutDims)),
        [Prims.JacobianToColumns] = Op((c, x) => x[0]!.reshape(c.OutDims)),
        [Prims.RowsToJacobian] = Op((c, x) =>
        {
            // [n, o...] -> [o..., n] -> [o..., s...]
            var r = x[0]!; int rank = (int)r.dim();
            var perm = Enumerable.Range(1, rank - 1).Append(0).Select(i => (long)i).ToArray();
            return r.permute(perm).reshape(c.OutDims);
        }),
        [Prims.JacobianToRows] = Op((c, x) =>
        {
            // [o..., s...] -> [o..., n] -> [n, o...]
            int n = c.In[1].Size, o = c.Out.Rank - 1;
            var flat = x[0]!.reshape([.. c.OutDims.Skip(1), n]);
            var perm = new long[] { o }.Concat(Enumerable.Range(0, o).Select(i => (long)i)).ToArray();
            return flat.permute(perm);
        }),
        [Prims.ReshapeTo] = Op((c, x) => Reshaped(x[0]!, c.In[0].Dims, c.OutDims)),
        [Prims.BroadcastToShape] = Op((c, x) => x[0]!.expand(c.OutDims)),
        [Prims.BroadcastTo] = Op((c, x) => x[0]!.expand(c.OutDims)),
        [Prims.SumTo] = Op((c, x) => SumToDims(x[0]!, c.In[0].Dims, c.Out.Dims)),

        // reductions
        [Prims.Sum] = Op((c, x) => Reduce(c, x[0]!, (t, a) => t.sum(a), t => t.sum())),
        [Prims.Mean] = Op((c, x) => Reduce(c, x[0]!.dtype == c.OutType ? x[0]! : x[0]!.to_type(c.OutType), (t, a) => t.mean([a]), t => t.mean())),
        [Prims.Max] = Op((c, x) => Reduce(c, x[0]!, (t, a) => t.amax([a]), t => t.max())),
        [Prims.ExpandReduced] = Op((c, x) => x[0]!.reshape(KeptShape(c.In[1], c.P.Get<int?>(0))).expand(c.OutDims)),
        [Prims.ExpandReducedMean] = Op((c, x) =>
        {
            int? axis = c.P.Get<int?>(0);
            long count = axis is int a ? c.In[1].Dims[c.Axis(a, c.In[1].Rank)] : c.In[1].Size;
            return (x[0]! / (double)count).reshape(KeptShape(c.In[1], axis)).expand(c.OutDims);
        }),
        [Prims.LogSumExp] = Op((c, x) => Reduce(c, x[0]!, (t, a) => t.logsumexp(a), t => t.flatten().logsumexp(0))),
        [Prims.Softmax] = Op((c, x) => x[0]!.softmax(c.Axis(c.P.Get<int>(0), c.In[0].Rank))),
        [Prims.LogSoftmax] = Op((c, x) => x[0]!.log_softmax(c.Axis(c.P.Get<int>(0), c.In[0].Rank))),
        [Prims.Argmax] = Op((c, x) => c.P.Get<int?>(0) is int a ? x[0]!.argmax(c.Axis(a, c.In[0].Rank)) : x[0]!.flatten().argmax()),

        // indexing and joining
        [Prims.Take] = Op((c, x) =>
        {
            int ax = c.Axis(c.P.Get<int>(0), c.In[0].Rank);
            return x[0]!.index_select(ax, Indices(x[1]!, c.In[0].Dims[ax], "Np.Take", c.In[0], ax)).reshape(c.OutDims);
        }),
        [Prims.ScatterAdd] = Op((c, x) =>
        {
            var target = c.In[2];
            int ax = c.Axis(c.P.Get<int>(0), target.Rank);
            var idx = Indices(x[1]!, target.Dims[ax], "Lax.ScatterAdd", target, ax);
            long[] gd = [.. Longs(target.Dims[..ax]), idx.shape[0], .. Longs(target.Dims[(ax + 1)..])];
            return Zeros(c).index_add(ax, idx, x[0]!.reshape(gd).to_type(c.OutType), 1.0);
        }),
        [Prims.TakeBatched] = Op((c, x) =>
        {
            var (nb, outer, n, inner, j, ax) = GatherDims(c.In[0], c.In[1], c.P);
            var idx = Indices(x[1]!, n, "Np.Take (batched)", c.In[0], ax).reshape(nb, 1, j, 1).expand(nb, outer, j, inner);
            return x[0]!.reshape(nb, outer, n, inner).gather(2, idx).reshape(c.OutDims);
        }),
        [Prims.ScatterAddBatched] = Op((c, x) =>
        {
            var (nb, outer, n, inner, j, ax) = GatherDims(c.In[2], c.In[1], c.P);
            var idx = Indices(x[1]!, n, "Lax.ScatterAdd (batched)", c.In[2], ax).reshape(nb, 1, j, 1).expand(nb, outer, j, inner);
            return torch.zeros([nb, outer, n, inner], c.OutType, c.Device).scatter_add(2, idx, x[0]!.reshape(nb, outer, j, inner).to_type(c.OutType)).reshape(c.OutDims);
        }),
        [Prims.OneHot] = Op((c, x) =>
        {
            int n = c.P.Get<int>(0);
            var v = x[0]!.unsqueeze(-1);
            return v.eq(torch.arange(n, v.dtype, v.device));
        }),
        [Prims.Concatenate] = Op((c, x) => torch.cat(x.Select(t => t!.to_type(c.OutType)).ToArray(), c.Axis(c.P.Get<int>(0), c.Out.Rank))),
        [Prims.SplitPart] = Op((c, x) =>
        {
            var (ax, off, len) = Block(c, c.In[1..], c.In[0].Rank);
            return x[0]!.narrow(ax, off, len);
        }),
        [Prims.PadPart] = Op((c, x) =>
        {
            var (ax, off, len) = Block(c, c.In[1..], c.In[0].Rank);
            var r = torch.zeros(c.OutDims, x[0]!.dtype, c.Device);
            r.narrow(ax, off, len).copy_(x[0]!);
            return r;
        }),
        [Prims.Stack] = Op((c, x) => torch.stack(x.Select(t => t!.to_type(c.OutType)).ToArray(), c.Axis(c.P.Get<int>(0), c.Out.Rank))),
        [Prims.Unstack] = Op((c, x) => x[0]!.select(c.Axis(c.P.Get<int>(0), c.In[0].Rank), c.P.Get<int>(1))),
        [Prims.StackPart] = Op((c, x) =>
        {
            var r = torch.zeros(c.OutDims, x[0]!.dtype, c.Device);
            r.select(c.Axis(c.P.Get<int>(0), c.Out.Rank), c.P.Get<int>(1)).copy_(x[0]!);
            return r;
        }),

        // conversions between tensors and C# scalars
        [Prims.ToDouble] = new ReadScalar(t => t.to_type(ScalarType.Float64).item<double>(), typeof(double)),
        [Prims.ToFloat] = new ReadScalar(t => t.to_type(ScalarType.Float32).item<float>(), typeof(float)),
        [Prims.FromDouble] = Op((c, x) => x[0]!),
        [Prims.FromFloat] = Op((c, x) => x[0]!),
        [Prims.CastDouble] = new HostScalar(),
        [Prims.CastFloat] = new HostScalar(),
        [Prims.StopGradient] = Ew(a => a),
        [Prims.Cast] = Op((c, x) => x[0]!.to_type(c.OutType)),
        [Prims.TangentFor] = Op((c, x) => DTypes.IsFloat(c.In[1].DType) ? x[0]! : torch.zeros(c.OutDims, c.OutType, c.Device)),
        [Prims.CastTangent] = Op((c, x) => DTypes.IsFloat(c.In[1].DType) ? x[0]!.to_type(c.OutType) : torch.zeros(c.OutDims, c.OutType, c.Device)),

        // the structural primitives of Vmap (unbatched here: a batched node is rewritten before lowering)
        [Prims.MoveAxisToFront] = Op((c, x) =>
        {
            int r = c.In[0].Rank, ax = c.Axis(c.P.Get<int>(0), r);
            return x[0]!.permute([ax, .. Enumerable.Range(0, r).Where(i => i != ax).Select(i => (long)i)]);
        }),
        [Prims.MoveAxisFromFront] = Op((c, x) =>
        {
            int r = c.In[0].Rank, ax = c.Axis(c.P.Get<int>(0), r);
            return x[0]!.permute(Enumerable.Range(0, r).Select(i => (long)(i < ax ? i + 1 : i == ax ? 0 : i)).ToArray());
        }),
        // on an aval it is an aval (known at compile time, by the core's shape rule)
        [Prims.AddBatchAxis] = Op((c, x) => x[0]!.unsqueeze(0)) with { AddsBatchAxis = true },
        // axis 0 (size 1 or B; a rank-0 value gets one) broadcast to B, the output's first dimension
        [Prims.BroadcastBatch] = Op((c, x) => x[0]!.reshape(c.In[0].Rank == 0 ? [1] : Longs(c.In[0].Dims)).expand(c.OutDims)),
        // the batch size is an aval known at compile time; the core's shape rule runs the size check then
        [Prims.VmapSize] = new AvalValued(CoreAval),
    })))))));

    /// <summary>The table with the entries declared in their own files (pooling: <see cref="PoolLowerings"/>).</summary>
    static Dictionary<Primitive, TorchLowering> With(IEnumerable<KeyValuePair<Primitive, TorchLowering>> more, Dictionary<Primitive, TorchLowering> table)
    {
        foreach (var (p, lowering) in more) table.Add(p, lowering);
        return table;
    }
}
