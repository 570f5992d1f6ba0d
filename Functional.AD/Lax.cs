using System.Numerics;
using System.Numerics.Tensors;

namespace Functional.AD;

/// <summary>
/// Lower-level primitives, mostly the ones derivative rules emit: transposes of linear operations
/// (un-broadcasting, re-expanding reductions, scattering, splitting and padding), shape-directed
/// creation and conversions. Every method is eager and real, like <see cref="Np"/>.
/// </summary>
/// <example><code>
/// var g = Np.Ones([3, 2]);
/// var b = Lax.SumTo(g, new Tensor(new float[] { 0, 0 }).Aval);   // un-broadcast [3,2] to [2]: [3, 3]
/// var d = Lax.Cast(g, DType.Float64);
/// </code></example>
public static partial class Lax
{
    /// <summary>The abstract value (shape, dtype, weak flag) of a tensor; rules capture it to size zeros and un-broadcast cotangents.</summary>
    /// <param name="x">The tensor.</param><returns><c>x.Aval</c>.</returns>
    public static Aval AvalOf(Tensor x) => x.Aval;

    /// <summary>The abstract value of a C# double: <see cref="Aval.ScalarDouble"/>.</summary>
    /// <param name="x">The value (unused).</param><returns>float64[].</returns>
    public static Aval AvalOf(double x) => Aval.ScalarDouble;

    /// <summary>The abstract value of a C# float: <see cref="Aval.ScalarFloat"/>.</summary>
    /// <param name="x">The value (unused).</param><returns>float32[].</returns>
    public static Aval AvalOf(float x) => Aval.ScalarFloat;

    /// <summary>
    /// Undoes numpy broadcasting (the transpose of <see cref="BroadcastTo"/>, used by every broadcasting binary
    /// rule): sums the leading axes <paramref name="x"/> has beyond <paramref name="target"/>'s rank and the
    /// axes where the target has size 1, then reshapes to the target's shape. Returns <paramref name="x"/>
    /// itself when the shapes are equal. The result takes the target's dtype unless the target is weak (a cotangent has its primal's dtype).
    /// Example: <c>SumTo(Ones([2, 3]), aval of [1, 3])</c> is <c>[[2., 2., 2.]]</c>.
    /// </summary>
    /// <param name="x">The broadcast tensor.</param><param name="target">The shape before broadcasting.</param>
    /// <returns>The summed tensor, of the target's shape.</returns>
    /// <exception cref="ShapeException">The target does not broadcast to x's shape.</exception>
    public static Tensor SumTo(Tensor x, Aval target)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(target);
        var td = target.Dims;
        if (!target.Weak && x.DType != target.DType) x = Cast(x, target.DType);
        if (SmallArrays.Same(td, x.Dims)) return x;
        if (!Kernels.BroadcastsTo(td, x.Dims))
            throw ShapeException.Of("Lax.SumTo", "the target does not broadcast to x's shape; SumTo undoes broadcasting, so the target must be x's shape with leading axes dropped or axes set to 1", ("x", x.Aval), ("target", target));
        if (!Eager.IsWide(x.DType)) return Eager.ViaWide(x.DType, a => SumTo(a[0], Aval.Intern(td, a[0].DType, target.Weak)), x);
        return x.DType == DType.Float64 ? SumToImpl<double>(x, td) : SumToImpl<float>(x, td);
    }

    private static Tensor SumToImpl<T>(Tensor x, int[] td) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ReadOnlySpan<T> data = x.Span<T>();
        int lead = x.Rank - td.Length;
        var cur = x.Dims[lead..];
        if (lead > 0) data = Kernels.SumAxis(data, 1, Kernels.Product(x.Dims, 0, lead), Kernels.Product(cur));
        // merge runs of consecutive reduced axes into one pass
        for (int i = 0; i < td.Length;)
        {
            if (!(td[i] == 1 && cur[i] != 1)) { i++; continue; }
            int j = i;
            while (j < td.Length && td[j] == 1) j++;
            data = Kernels.SumAxis(data, Kernels.Product(cur, 0, i), Kernels.Product(cur, i, j), Kernels.Product(cur, j));
            for (int q = i; q < j; q++) cur[q] = 1;
            i = j;
        }
        return Eager.Make(data.ToArray(), (int[])td.Clone(), x.IsWeak);
    }

    /// <summary>Broadcasts to the target's shape (see <see cref="Np.BroadcastTo"/>); the result takes the target's dtype unless the target is weak. Used by the transpose of <see cref="SumTo"/>.</summary>
    /// <param name="x">The tensor.</param><param name="target">Supplies the shape.</param><returns>The broadcast tensor.</returns>
    public static Tensor BroadcastTo(Tensor x, Aval target) =>
        Np.BroadcastTo(!target.Weak && x.DType != target.DType ? Cast(x, target.DType) : x, target.Dims);

    /// <summary>Reshapes to the target's shape (see <see cref="Np.Reshape"/>); the dtype stays x's. The transpose of <see cref="Np.Reshape"/>.</summary>
    /// <param name="x">The tensor.</param><param name="target">Supplies the shape.</param><returns>The reshaped tensor.</returns>
    public static Tensor ReshapeTo(Tensor x, Aval target) => Np.Reshape(x, target.Dims);

    /// <summary>Zeros of the aval's shape, dtype and weak flag (a materialised symbolic zero).</summary>
    /// <param name="a">The abstract value.</param><returns>The tensor.</returns>
    public static Tensor Zeros(Aval a) => Eager.Fill((int[])a.Dims.Clone(), 0, a.DType, a.Weak);

    /// <summary>Ones of the aval's shape, dtype and weak flag (the seed cotangent of <c>Grad</c>).</summary>
    /// <param name="a">The abstract value.</param><returns>The tensor.</returns>
    public static Tensor Ones(Aval a) => Eager.Fill((int[])a.Dims.Clone(), 1, a.DType, a.Weak);

    /// <summary>
    /// The transpose of <see cref="Np.Sum(Tensor, int?, bool)"/>: reinserts the reduced axis (all axes when <paramref name="axis"/> is
    /// null and not <paramref name="keepdims"/>) as size 1, then broadcasts <paramref name="g"/> to the input's shape.
    /// Example: with input float32[2,3] and axis 1, <c>g = [1, 2]</c> gives <c>[[1, 1, 1], [2, 2, 2]]</c>.
    /// </summary>
    /// <param name="g">The cotangent of the sum.</param><param name="input">The summed tensor's aval.</param>
    /// <param name="axis">The summed axis, or null for all.</param><param name="keepdims">Whether the sum kept the axes.</param>
    /// <returns>A tensor of the input's shape, in g's dtype.</returns>
    public static Tensor ExpandReduced(Tensor g, Aval input, int? axis, bool keepdims)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => ExpandReduced(t[0], input, axis, keepdims), g);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(input);
        string Call() => $"Lax.ExpandReduced(g: {g.Aval}, input: {input}, axis: {(axis is null ? "null" : axis)}, keepdims: {(keepdims ? "true" : "false")})";
        int[] gd;
        if (axis is int a0)
        {
            int ax = Eager.Axis(a0, input.Rank, Call, [g.Aval, input]);
            var expect = Eager.Remove(input.Dims, ax);
            if (keepdims) expect = Eager.Insert(expect, ax, 1);
            if (!SmallArrays.Same(g.Dims, expect))
                throw new ShapeException(Call(), [g.Aval, input], $"g must have the reduced shape {Eager.Dims(expect)}");
            gd = Eager.Insert(Eager.Remove(input.Dims, ax), ax, 1);
        }
        else
        {
            if (g.Size != 1 || (keepdims ? g.Rank != input.Rank : g.Rank != 0))
                throw new ShapeException(Call(), [g.Aval, input], keepdims ? $"g must have shape {Eager.Dims(Enumerable.Repeat(1, input.Rank).ToArray())}" : "g must be rank 0");
            gd = Enumerable.Repeat(1, input.Rank).ToArray();
        }
        var od = (int[])input.Dims.Clone();
        return g.DType == DType.Float64
            ? Eager.Make(Kernels.Broadcast(g.Span<double>(), gd, od), od, g.IsWeak)
            : Eager.Make(Kernels.Broadcast(g.Span<float>(), gd, od), od, g.IsWeak);
    }

    /// <summary>The transpose of <see cref="Np.Mean(Tensor, int?, bool)"/>: <see cref="ExpandReduced"/> divided by the number of elements averaged.</summary>
    /// <param name="g">The cotangent of the mean.</param><param name="input">The averaged tensor's aval.</param>
    /// <param name="axis">The averaged axis, or null for all.</param><param name="keepdims">Whether the mean kept the axes.</param>
    /// <returns>A tensor of the input's shape, in g's dtype.</returns>
    public static Tensor ExpandReducedMean(Tensor g, Aval input, int? axis, bool keepdims)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(input);
        int count = axis is int a0
            ? input.Dims[Eager.Axis(a0, input.Rank, () => $"Lax.ExpandReducedMean(g: {g.Aval}, input: {input}, axis: {a0}, keepdims: {(keepdims ? "true" : "false")})", [g.Aval, input])]
            : input.Size;
        // divide the (small) reduced cotangent first, then expand; a weak divisor keeps g's dtype
        return ExpandReduced(Np.Div(g, new Tensor((double)count)), input, axis, keepdims);
    }

    /// <summary>
    /// The cotangent of <c>a</c> in <c>Np.Dot(a, b)</c> given the output cotangent <paramref name="g"/> (reverse rule of Dot).
    /// a's rank follows from (rank g, rank b): (0,1): <c>g*b</c>; (1,2): <c>b@g</c>; (1,1): <c>outer(g, b)</c>; (2,2): <c>g@bᵀ</c>.
    /// </summary>
    /// <param name="g">The output cotangent.</param><param name="b">Dot's second operand.</param><returns>The cotangent of a.</returns>
    /// <exception cref="ShapeException">The ranks fit no case of Dot.</exception>
    public static Tensor DotTA(Tensor g, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(b);
        ShapeException Bad(string why) => ShapeException.Of("Lax.DotTA", why + "; DotTA takes (g, b) of ranks (0,1), (1,2), (1,1) or (2,2) with g the cotangent of Dot(a, b)", ("g", g.Aval), ("b", b.Aval));
        var (dt, weak) = DTypes.Promote(g.DType, g.IsWeak, b.DType, b.IsWeak);
        // integers exactly through float64, halves through float32 (one rounding), the result in the promoted dtype
        if (!Eager.IsWide(dt)) return Eager.ViaWide(dt, t => DotTA(t[0], t[1]), g, b);
        switch (g.Rank, b.Rank)
        {
            case (0, 1):
                return Np.Mul(g, b);
            case (1, 2):
                if (g.Dims[0] != b.Dims[1]) throw Bad($"g has {g.Dims[0]} elements but b has {b.Dims[1]} columns");
                return Np.Dot(b, g);
            case (1, 1):
                return dt == DType.Float64
                    ? Eager.Make(Kernels.Outer(Eager.Data<double>(g), Eager.Data<double>(b)), [g.Dims[0], b.Dims[0]], weak)
                    : Eager.Make(Kernels.Outer(Eager.Data<float>(g), Eager.Data<float>(b)), [g.Dims[0], b.Dims[0]], weak);
            case (2, 2):
            {
                int m = g.Dims[0], n = g.Dims[1], k = b.Dims[0];
                if (b.Dims[1] != n) throw Bad($"g has {n} columns but b has {b.Dims[1]}");
                return dt == DType.Float64 ? GemmT<double>(g, false, b, true, m, n, k, weak) : GemmT<float>(g, false, b, true, m, n, k, weak);
            }
            default:
                throw Bad($"ranks ({g.Rank}, {b.Rank}) fit no case of Dot");
        }
    }

    /// <summary>A fresh [m, n] product of op(a) [m, k] and op(b) [k, n] (see <see cref="Kernels.Gemm{T}"/>).</summary>
    private static Tensor GemmT<T>(Tensor a, bool ta, Tensor b, bool tb, int m, int k, int n, bool weak) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[m * n];
        Kernels.Gemm(Eager.Data<T>(a), ta, Eager.Data<T>(b), tb, r, m, k, n);
        return Eager.Make(r, [m, n], weak);
    }

    /// <summary>
    /// The cotangent of <c>b</c> in <c>Np.Dot(a, b)</c> (reverse rule of Dot). b's rank follows from (rank a, rank g):
    /// (1,0): <c>a*g</c>; (1,1): <c>outer(a, g)</c>; (2,1): <c>aᵀ@g</c>; (2,2): <c>aᵀ@g</c>.
    /// </summary>
    /// <param name="a">Dot's first operand.</param><param name="g">The output cotangent.</param><returns>The cotangent of b.</returns>
    /// <exception cref="ShapeException">The ranks fit no case of Dot.</exception>
    public static Tensor DotTB(Tensor a, Tensor g)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(g);
        ShapeException Bad(string why) => ShapeException.Of("Lax.DotTB", why + "; DotTB takes (a, g) of ranks (1,0), (1,1), (2,1) or (2,2) with g the cotangent of Dot(a, b)", ("a", a.Aval), ("g", g.Aval));
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, g.DType, g.IsWeak);
        if (!Eager.IsWide(dt)) return Eager.ViaWide(dt, t => DotTB(t[0], t[1]), a, g);
        switch (a.Rank, g.Rank)
        {
            case (1, 0):
                return Np.Mul(a, g);
            case (1, 1):
                return dt == DType.Float64
                    ? Eager.Make(Kernels.Outer(Eager.Data<double>(a), Eager.Data<double>(g)), [a.Dims[0], g.Dims[0]], weak)
                    : Eager.Make(Kernels.Outer(Eager.Data<float>(a), Eager.Data<float>(g)), [a.Dims[0], g.Dims[0]], weak);
            case (2, 1):
                if (a.Dims[0] != g.Dims[0]) throw Bad($"a has {a.Dims[0]} rows but g has {g.Dims[0]} elements");
                return Np.Dot(g, a);
            case (2, 2):
            {
                int m = a.Dims[0], k = a.Dims[1], n = g.Dims[1];
                if (g.Dims[0] != m) throw Bad($"a has {m} rows but g has {g.Dims[0]}");
                return dt == DType.Float64 ? GemmT<double>(a, true, g, false, k, m, n, weak) : GemmT<float>(a, true, g, false, k, m, n, weak);
            }
            default:
                throw Bad($"ranks ({a.Rank}, {g.Rank}) fit no case of Dot");
        }
    }

    /// <summary>
    /// The cotangent of <c>a</c> in <c>Np.MatMul(a, b)</c> (reverse rule of MatMul): <c>g @ bᵀ</c> on the last two axes,
    /// with rank-1 operands promoted as MatMul does and the broadcast batch axes summed down to <paramref name="a"/>'s aval.
    /// </summary>
    /// <param name="g">The output cotangent.</param><param name="b">MatMul's second operand.</param><param name="a">The aval of MatMul's first operand.</param>
    /// <returns>The cotangent of a, of a's shape.</returns>
    public static Tensor MatMulTA(Tensor g, Tensor b, Aval a) => MatMulT(g, b, a, forA: true);

    /// <summary>
    /// The cotangent of <c>b</c> in <c>Np.MatMul(a, b)</c> (reverse rule of MatMul): <c>aᵀ @ g</c> on the last two axes,
    /// with rank-1 promotion and the batch axes summed down to <paramref name="b"/>'s aval.
    /// </summary>
    /// <param name="a">MatMul's first operand.</param><param name="g">The output cotangent.</param><param name="b">The aval of MatMul's second operand.</param>
    /// <returns>The cotangent of b, of b's shape.</returns>
    public static Tensor MatMulTB(Tensor a, Tensor g, Aval b) => MatMulT(g, a, b, forA: false);

    /// <summary>
    /// The transpose of <see cref="Np.Take"/>: zeros of x's shape with each slice of <paramref name="g"/> added at its
    /// index along <paramref name="axis"/> (repeated indices accumulate). Example: <c>ScatterAdd([1, 2, 3], [0, 2, 0], 0, float32[3])</c> is <c>[4., 0., 2.]</c>.
    /// </summary>
    /// <param name="g">The cotangent of Take's output.</param><param name="indices">Take's indices.</param>
    /// <param name="axis">Take's axis.</param><param name="x">The aval of Take's input (its dtype is taken from g).</param>
    /// <returns>A tensor of x's shape.</returns>
    public static Tensor ScatterAdd(Tensor g, Tensor indices, int axis, Aval x)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => ScatterAdd(t[0], indices, axis, Aval.Intern(x.Dims, t[0].DType, x.Weak)), g);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Lax.ScatterAdd(g: {g.Aval}, indices: {indices.Aval}, axis: {axis}, x: {x})";
        int ax = Eager.Axis(axis, x.Rank, Call, [g.Aval, indices.Aval, x]);
        var expect = x.Dims[..ax].Concat(indices.Dims).Concat(x.Dims[(ax + 1)..]).ToArray();
        if (!SmallArrays.Same(g.Dims, expect))
            throw new ShapeException(Call(), [g.Aval, indices.Aval, x], $"g must have Take's output shape {Eager.Dims(expect)}");
        int n = x.Dims[ax];
        var idx = Eager.Indices(indices, n, "Lax.ScatterAdd", x, ax);
        int outer = Kernels.Product(x.Dims, 0, ax), inner = Kernels.Product(x.Dims, ax + 1);
        var od = (int[])x.Dims.Clone();
        return g.DType == DType.Float64
            ? Eager.Make(Kernels.ScatterAdd(g.Span<double>(), outer, n, inner, idx), od, g.IsWeak)
            : Eager.Make(Kernels.ScatterAdd(g.Span<float>(), outer, n, inner, idx), od, g.IsWeak);
    }

    /// <summary>
    /// <see cref="Np.Take"/> with its first <paramref name="batchDims"/> axes shared by x and the indices: each batch
    /// element gathers from its own slice of x with its own indices (what a batched Take becomes under <c>Ad.Vmap</c>).
    /// Example: x <c>[[1, 2], [3, 4]]</c>, indices <c>[[1], [0]]</c>, axis 0, one batch axis give <c>[[2], [3]]</c>.
    /// </summary>
    /// <param name="x">The values, <c>[B.., core..]</c>.</param><param name="indices">Integral indices, <c>[B.., j..]</c> (the same batch axes).</param>
    /// <param name="axis">The core axis of x to index.</param><param name="batchDims">How many leading axes are shared.</param>
    /// <returns><c>[B.., core[..axis], j.., core[axis+1..]]</c>.</returns>
    public static Tensor TakeBatched(Tensor x, Tensor indices, int axis, int batchDims)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!Eager.IsWide(x.DType)) return Eager.ViaWide(x.DType, t => TakeBatched(t[0], indices, axis, batchDims), x);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        string Call() => $"Lax.TakeBatched(x: {x.Aval}, indices: {indices.Aval}, axis: {axis}, batchDims: {batchDims})";
        var (bx, cx, bi, ci) = (x.Dims[..batchDims], x.Dims[batchDims..], indices.Dims[..batchDims], indices.Dims[batchDims..]);
        if (x.Rank < batchDims || indices.Rank < batchDims || !SmallArrays.Same(bx, bi))
            throw new ShapeException(Call(), [x.Aval, indices.Aval], $"x and the indices must share their first {batchDims} axes");
        int ax = Eager.Axis(axis, cx.Length, Call, [x.Aval, indices.Aval]);
        int nb = Kernels.Product(bx), outer = Kernels.Product(cx, 0, ax), n = cx[ax], inner = Kernels.Product(cx, ax + 1), j = Kernels.Product(ci);
        var iv = Eager.Indices(indices, n, "Np.Take (batched)", x.Aval, ax);
        int[] od = [.. bx, .. cx[..ax], .. ci, .. cx[(ax + 1)..]];
        return x.DType == DType.Float64 ? Eager.Make(Gather(x.Span<double>(), iv, nb, outer, n, inner, j), od, x.IsWeak)
                                        : Eager.Make(Gather(x.Span<float>(), iv, nb, outer, n, inner, j), od, x.IsWeak);
    }

    static T[] Gather<T>(ReadOnlySpan<T> xv, int[] iv, int nb, int outer, int n, int inner, int j) where T : unmanaged
    {
        var r = new T[nb * outer * j * inner];
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < outer; o++)
                for (int q = 0; q < j; q++)
                    xv.Slice(((b * outer + o) * n + iv[b * j + q]) * inner, inner).CopyTo(r.AsSpan(((b * outer + o) * j + q) * inner, inner));
        return r;
    }

    /// <summary>
    /// The transpose of <see cref="TakeBatched"/>: zeros of x's shape with each slice of <paramref name="g"/> added at its
    /// batch element's index (repeated indices accumulate).
    /// </summary>
    /// <param name="g">The cotangent of TakeBatched's output.</param><param name="indices">Its indices.</param>
    /// <param name="axis">Its core axis.</param><param name="batchDims">Its shared leading axes.</param><param name="x">The aval of its input.</param>
    /// <returns>A tensor of x's shape (g's dtype).</returns>
    public static Tensor ScatterAddBatched(Tensor g, Tensor indices, int axis, int batchDims, Aval x)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => ScatterAddBatched(t[0], indices, axis, batchDims, Aval.Intern(x.Dims, t[0].DType, x.Weak)), g);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Lax.ScatterAddBatched(g: {g.Aval}, indices: {indices.Aval}, axis: {axis}, batchDims: {batchDims}, x: {x})";
        var (bx, cx, ci) = (x.Dims[..batchDims], x.Dims[batchDims..], indices.Dims[batchDims..]);
        int ax = Eager.Axis(axis, cx.Length, Call, [g.Aval, indices.Aval, x]);
        int[] expect = [.. bx, .. cx[..ax], .. ci, .. cx[(ax + 1)..]];
        if (!SmallArrays.Same(g.Dims, expect) || !SmallArrays.Same(indices.Dims[..batchDims], bx))
            throw new ShapeException(Call(), [g.Aval, indices.Aval, x], $"g must have TakeBatched's output shape {Eager.Dims(expect)}");
        int nb = Kernels.Product(bx), outer = Kernels.Product(cx, 0, ax), n = cx[ax], inner = Kernels.Product(cx, ax + 1), j = Kernels.Product(ci);
        var iv = Eager.Indices(indices, n, "Lax.ScatterAdd (batched)", x, ax);
        var od = (int[])x.Dims.Clone();
        return g.DType == DType.Float64 ? Eager.Make(Scatter(g.Span<double>(), iv, nb, outer, n, inner, j), od, g.IsWeak)
                                        : Eager.Make(Scatter(g.Span<float>(), iv, nb, outer, n, inner, j), od, g.IsWeak);
    }

    static T[] Scatter<T>(ReadOnlySpan<T> gv, int[] iv, int nb, int outer, int n, int inner, int j) where T : unmanaged, System.Numerics.INumber<T>
    {
        var r = new T[nb * outer * n * inner];
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < outer; o++)
                for (int q = 0; q < j; q++)
                {
                    int dst = ((b * outer + o) * n + iv[b * j + q]) * inner, src = ((b * outer + o) * j + q) * inner;
                    for (int i = 0; i < inner; i++) r[dst + i] += gv[src + i];
                }
        return r;
    }

    /// <summary>
    /// The transpose of <see cref="Np.Concatenate"/>: the <paramref name="index"/>-th block of <paramref name="g"/> along
    /// <paramref name="axis"/>, block sizes <c>parts[i].Shape[axis]</c>. Example: with parts of sizes 2 and 1, block 1 of <c>[1, 2, 3]</c> is <c>[3.]</c>.
    /// </summary>
    /// <param name="g">The concatenated tensor.</param><param name="axis">The concatenation axis.</param>
    /// <param name="index">Which block.</param><param name="parts">The avals of the concatenated parts.</param>
    /// <returns>The block.</returns>
    public static Tensor SplitPart(Tensor g, int axis, int index, Aval[] parts)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => SplitPart(t[0], axis, index, parts), g);
        var (ax, off, len, outer, inner) = Blocks("Lax.SplitPart", g, g.Aval, axis, index, parts, padding: false);
        int total = g.Dims[ax] * inner;
        var od = (int[])g.Dims.Clone();
        od[ax] = len;
        return g.DType == DType.Float64
            ? Eager.Make(Kernels.SliceBlock(g.Span<double>(), outer, len * inner, off * inner, total), od, g.IsWeak)
            : Eager.Make(Kernels.SliceBlock(g.Span<float>(), outer, len * inner, off * inner, total), od, g.IsWeak);
    }

    /// <summary>
    /// The transpose of <see cref="SplitPart"/>: zeros of the concatenated shape with <paramref name="g"/> in block <paramref name="index"/>.
    /// </summary>
    /// <param name="g">One block.</param><param name="axis">The concatenation axis.</param>
    /// <param name="index">Which block.</param><param name="parts">The avals of all parts.</param>
    /// <returns>The padded tensor.</returns>
    public static Tensor PadPart(Tensor g, int axis, int index, Aval[] parts)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => PadPart(t[0], axis, index, parts), g);
        var (ax, off, len, outer, inner) = Blocks("Lax.PadPart", g, g.Aval, axis, index, parts, padding: true);
        int size = parts.Sum(p => p.Dims[ax]);
        var od = (int[])g.Dims.Clone();
        od[ax] = size;
        if (g.DType == DType.Float64)
        {
            var r = new double[Kernels.Product(od)];
            Kernels.CopyBlock(g.Span<double>(), r, outer, len * inner, off * inner, size * inner);
            return Eager.Make(r, od, g.IsWeak);
        }
        var f = new float[Kernels.Product(od)];
        Kernels.CopyBlock(g.Span<float>(), f, outer, len * inner, off * inner, size * inner);
        return Eager.Make(f, od, g.IsWeak);
    }

    /// <summary>Validates a block of a concatenation and returns its axis, offset, length, and the outer/inner sizes around the axis.</summary>
    private static (int Axis, int Offset, int Length, int Outer, int Inner) Blocks(string op, Tensor g, Aval ga, int axis, int index, Aval[] parts, bool padding)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(parts);
        string Call() => $"{op}(g: {ga}, axis: {axis}, index: {index}, parts: [{string.Join(", ", parts.Select(p => p.ToString()))}])";
        var shapes = new[] { ga }.Concat(parts).ToArray();
        int ax = Eager.Axis(axis, g.Rank, Call, shapes);
        if ((uint)index >= (uint)parts.Length)
            throw new ShapeException(Call(), shapes, $"index {index} is out of range for {parts.Length} parts");
        int off = 0, total = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            if (p.Rank != g.Rank)
                throw new ShapeException(Call(), shapes, $"part {i} has rank {p.Rank} but g has rank {g.Rank}");
            for (int q = 0; q < g.Rank; q++)
                if (q != ax && p.Dims[q] != g.Dims[q])
                    throw new ShapeException(Call(), shapes, $"part {i} differs from g on axis {q} ({p.Dims[q]} vs {g.Dims[q]}); only axis {ax} may differ");
            if (i < index) off += p.Dims[ax];
            total += p.Dims[ax];
        }
        int len = parts[index].Dims[ax];
        if (padding ? g.Dims[ax] != len : g.Dims[ax] != total)
            throw new ShapeException(Call(), shapes, padding
                ? $"g has {g.Dims[ax]} entries on axis {ax} but part {index} has {len}"
                : $"g has {g.Dims[ax]} entries on axis {ax} but the parts add up to {total}");
        return (ax, off, len, Kernels.Product(g.Dims, 0, ax), Kernels.Product(g.Dims, ax + 1));
    }

    /// <summary>
    /// The transpose of <see cref="Np.Stack"/>: slice <paramref name="index"/> along <paramref name="axis"/>, that axis removed.
    /// Example: <c>Unstack([[1, 2], [3, 4]], 1, 0)</c> is <c>[1., 3.]</c>.
    /// </summary>
    /// <param name="g">The stacked tensor.</param><param name="axis">The stacking axis.</param><param name="index">The position.</param>
    /// <returns>The slice.</returns>
    public static Tensor Unstack(Tensor g, int axis, int index)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => Unstack(t[0], axis, index), g);
        ArgumentNullException.ThrowIfNull(g);
        string Call() => $"Lax.Unstack(g: {g.Aval}, axis: {axis}, index: {index})";
        int ax = Eager.Axis(axis, g.Rank, Call, [g.Aval]);
        int n = g.Dims[ax];
        if ((uint)index >= (uint)n) throw new ShapeException(Call(), [g.Aval], $"index {index} is out of range for axis {ax} of size {n}");
        int outer = Kernels.Product(g.Dims, 0, ax), inner = Kernels.Product(g.Dims, ax + 1);
        var od = Eager.Remove(g.Dims, ax);
        return g.DType == DType.Float64
            ? Eager.Make(Kernels.SliceBlock(g.Span<double>(), outer, inner, index * inner, n * inner), od, g.IsWeak)
            : Eager.Make(Kernels.SliceBlock(g.Span<float>(), outer, inner, index * inner, n * inner), od, g.IsWeak);
    }

    /// <summary>
    /// <see cref="Unstack(Tensor, int, int)"/> as reverse mode emits it: the stacked value's aval rides along
    /// (<paramref name="stacked"/>, the shape <paramref name="g"/> must have). Printed derivatives call it.
    /// Example: <c>Lax.Unstack(g, Lax.AvalOf(g), axis: 0, index: 1)</c> is row 1 of <c>g</c>.
    /// </summary>
    /// <param name="g">The stacked tensor.</param><param name="stacked">The aval of the stacked value (unused beyond the call's arity).</param>
    /// <param name="axis">The stacking axis.</param><param name="index">The position.</param>
    /// <returns>The slice.</returns>
    public static Tensor Unstack(Tensor g, Aval stacked, int axis, int index) => Unstack(g, axis, index);

    /// <summary>
    /// <see cref="StackPart(Tensor, int, int, int)"/> as reverse mode emits it: the count is the size of
    /// <paramref name="stacked"/> along <paramref name="axis"/> (a negative axis counts from its end).
    /// Example: <c>Lax.StackPart(row, new Aval([3, 2], DType.Float32), axis: 0, index: 1)</c> is a [3, 2] tensor of zeros with <c>row</c> in row 1.
    /// </summary>
    /// <param name="g">The slice.</param><param name="stacked">The aval of the stacked value.</param>
    /// <param name="axis">The stacking axis in <paramref name="stacked"/>.</param><param name="index">The slice's position.</param>
    /// <returns>The padded tensor, shaped like <paramref name="stacked"/>.</returns>
    public static Tensor StackPart(Tensor g, Aval stacked, int axis, int index)
    {
        ArgumentNullException.ThrowIfNull(stacked);
        int ax = axis < 0 ? axis + stacked.Rank : axis;
        if ((uint)ax >= (uint)stacked.Rank)
            throw new ShapeException($"Lax.StackPart(g, stacked: {stacked}, axis: {axis}, index: {index})", [stacked], $"axis {axis} is out of range for rank {stacked.Rank}");
        return StackPart(g, ax, index, stacked.Dims[ax]);
    }

    /// <summary>
    /// The cotangent seed of reverse mode (<c>Ad.Grad</c>): ones shaped like the scalar <paramref name="output"/>, the
    /// <c>1</c> that <c>d output / d output</c> is. Printed gradients start from it.
    /// Example: <c>Lax.GradSeed(Np.Sum(x))</c> is a rank-0 tensor 1 of <c>x</c>'s dtype.
    /// </summary>
    /// <param name="output">The function's output: a rank-0 tensor.</param>
    /// <returns>Ones of <paramref name="output"/>'s aval.</returns>
    /// <exception cref="GradException"><paramref name="output"/> is not rank 0; the message says how to reduce it.</exception>
    public static Tensor GradSeed(Tensor output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return Rt.GradSeed(output, "the function");
    }

    /// <summary>
    /// The transpose of <see cref="Unstack(Tensor, int, int)"/>: zeros with a new axis of size <paramref name="count"/> at <paramref name="axis"/>,
    /// holding <paramref name="g"/> at position <paramref name="index"/>.
    /// </summary>
    /// <param name="g">The slice.</param><param name="axis">The new axis's position.</param>
    /// <param name="index">The slice's position.</param><param name="count">The new axis's size.</param>
    /// <returns>The padded tensor.</returns>
    public static Tensor StackPart(Tensor g, int axis, int index, int count)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!Eager.IsWide(g.DType)) return Eager.ViaWide(g.DType, t => StackPart(t[0], axis, index, count), g);
        ArgumentNullException.ThrowIfNull(g);
        string Call() => $"Lax.StackPart(g: {g.Aval}, axis: {axis}, index: {index}, count: {count})";
        int ax = Eager.Axis(axis, g.Rank + 1, Call, [g.Aval]);
        if ((uint)index >= (uint)count) throw new ShapeException(Call(), [g.Aval], $"index {index} is out of range for a new axis of size {count}");
        var od = Eager.Insert(g.Dims, ax, count);
        int outer = Kernels.Product(g.Dims, 0, ax), inner = Kernels.Product(g.Dims, ax);
        if (g.DType == DType.Float64)
        {
            var r = new double[Kernels.Product(od)];
            Kernels.CopyBlock(g.Span<double>(), r, outer, inner, index * inner, count * inner);
            return Eager.Make(r, od, g.IsWeak);
        }
        var f = new float[Kernels.Product(od)];
        Kernels.CopyBlock(g.Span<float>(), f, outer, inner, index * inner, count * inner);
        return Eager.Make(f, od, g.IsWeak);
    }

    /// <summary>The value of a rank-0 tensor as a double (used where a rule needs a C# scalar).</summary>
    /// <param name="x">A rank-0 tensor.</param><returns>The value.</returns>
    /// <exception cref="ShapeException">x is not rank 0 (even of size 1); the message names its shape.</exception>
    public static double ToDouble(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 0)
            throw ShapeException.Of("Lax.ToDouble", "only a rank-0 tensor converts to a scalar; reduce it first (Np.Sum) or reshape it to [] (Np.Reshape(x, []))", ("x", x.Aval));
        return (double)x;
    }

    /// <summary>The value of a rank-0 tensor as a float.</summary>
    /// <param name="x">A rank-0 tensor.</param><returns>The value, rounded to float.</returns>
    /// <exception cref="ShapeException">x is not rank 0; the message names its shape.</exception>
    public static float ToFloat(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 0)
            throw ShapeException.Of("Lax.ToFloat", "only a rank-0 tensor converts to a scalar; reduce it first (Np.Sum) or reshape it to [] (Np.Reshape(x, []))", ("x", x.Aval));
        return x.DType == DType.Float32 ? x.Span<float>()[0] : (float)x.Element(0);
    }

    /// <summary>A C# double as a weakly typed float32 scalar, as the implicit conversion makes it (used where a C# <c>double</c> constant meets tensors).</summary>
    /// <param name="x">The value.</param><returns>The scalar.</returns>
    public static Tensor FromDouble(double x) => new(x);

    /// <summary>A C# float as a float32 scalar, not weak (used where a C# <c>float</c> value meets tensors).</summary>
    /// <param name="x">The value.</param><returns>The scalar.</returns>
    public static Tensor FromFloat(float x) => Tensor.Adopt(new[] { x }, []);

    /// <summary>
    /// Converts to <paramref name="dtype"/> with C#'s explicit conversions (to nearest between floats; toward zero from
    /// a float to an integer, where .NET saturates out-of-range values and gives 0 for NaN; non-zero is true for bool,
    /// bool is 0 or 1 as a number); the result is not weak. A conversion to a non-float dtype has no derivative.
    /// Returns x when it already is. The transpose rule of a promoting operation uses it to bring a cotangent
    /// back to its operand's dtype. Example: <c>Cast(Tensor.Scalar(0.1, DType.Float64), DType.Float32)</c> is <c>0.1f</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="dtype">The target dtype.</param><returns>The converted tensor.</returns>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        ArgumentNullException.ThrowIfNull(x);
        DTypes.Check(dtype, $"Cast(x: {x.Aval})");
        if (x.DType == dtype && !x.IsWeak) return x;
        // a weak scalar keeps its exact double value until it is given a dtype
        if (x.ExactScalar is double exact) return Tensor.Scalar(exact, dtype);
        if (x.DType == dtype) return Tensor.Adopt(x.Managed ?? x.HostArray(), Aval.Intern(x.Dims, dtype, false));
        return Tensor.Adopt(Elements.Convert(x.HostArray(), x.DType, dtype), Aval.Intern(x.Dims, dtype, false));
    }

    /// <summary>
    /// The tangent forward mode uses for an argument <paramref name="x"/> given the tangent <paramref name="t"/> passed
    /// with it: t itself when x is a float; zeros otherwise (an integer or bool argument carries no tangent, JAX's float0,
    /// whatever was passed for it). Example: <c>TangentFor(dlabels, labels)</c> is zeros for int32 labels.
    /// </summary>
    /// <param name="t">The tangent passed.</param><param name="x">The argument.</param>
    /// <returns>The tangent used.</returns>
    public static Tensor TangentFor(Tensor t, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(x);
        return DTypes.IsFloat(x.DType) ? t : Eager.Fill(x.Dims, 0, DTypes.IsFloat(t.DType) ? t.DType : DType.Float32);
    }

    /// <summary>
    /// The tangent of <c>Cast(x, dtype)</c> (what forward mode writes for <c>x.AsType(dtype)</c>): the tangent
    /// <paramref name="t"/> converted when x is a float; zeros of x's shape otherwise (an integer or bool x carries no
    /// tangent, JAX's float0). Example: <c>CastTangent(dx, labels, DType.Float32)</c> is zeros for int32 labels.
    /// </summary>
    /// <param name="t">The tangent of x.</param><param name="x">The converted value.</param><param name="dtype">The target dtype.</param>
    /// <returns>The tangent of the conversion.</returns>
    public static Tensor CastTangent(Tensor t, Tensor x, DType dtype)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(x);
        return DTypes.IsFloat(x.DType) ? Cast(t, dtype) : Eager.Fill(x.Dims, 0, dtype);
    }

    /// <summary>
    /// Shared body of MatMulTA/MatMulTB. With <paramref name="forA"/>, other is b and the cotangent of a is
    /// <c>g @ bᵀ</c>; otherwise other is a and the cotangent of b is <c>aᵀ @ g</c>. Rank-1 operands are promoted
    /// as MatMul promotes them and the batch axes are summed down to <paramref name="target"/>.
    /// </summary>
    private static Tensor MatMulT(Tensor g, Tensor other, Aval target, bool forA)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(other);
        ArgumentNullException.ThrowIfNull(target);
        var (pdt, _) = DTypes.Promote(g.DType, g.IsWeak, other.DType, other.IsWeak);
        if (!Eager.IsWide(pdt)) return Eager.ViaWide(pdt, t => MatMulT(t[0], t[1], target, forA), g, other);
        var (aAval, bAval) = forA ? (target, other.Aval) : (other.Aval, target);
        string op = forA ? "Lax.MatMulTA" : "Lax.MatMulTB";
        ShapeException Bad(string why) => forA
            ? ShapeException.Of(op, why, ("g", g.Aval), ("b", other.Aval), ("a", target))
            : ShapeException.Of(op, why, ("a", other.Aval), ("g", g.Aval), ("b", target));
        if (aAval.Rank == 0 || bAval.Rank == 0) throw Bad("MatMul operands have rank 1 or more");
        int[] ad = aAval.Rank == 1 ? [1, aAval.Dims[0]] : aAval.Dims;
        int[] bd = bAval.Rank == 1 ? [bAval.Dims[0], 1] : bAval.Dims;
        int m = ad[^2], k = ad[^1], n = bd[^1];
        if (bd[^2] != k) throw Bad($"contracted axes differ ({k} vs {bd[^2]})");
        var batch = Kernels.BroadcastShapes(ad[..^2], bd[..^2]) ?? throw Bad("the batch axes do not broadcast");
        var outDims = new List<int>(batch);
        if (aAval.Rank > 1) outDims.Add(m);
        if (bAval.Rank > 1) outDims.Add(n);
        if (!g.Dims.AsSpan().SequenceEqual(outDims.ToArray()))
            throw Bad($"g must have MatMul's output shape {Eager.Dims(outDims.ToArray())}");
        int[] gd = [.. batch, m, n];
        var (dt, weak) = DTypes.Promote(g.DType, g.IsWeak, other.DType, other.IsWeak);
        Tensor full;
        if (forA)
        {
            // ct_a[.., m, k] = g[.., m, n] @ b[.., k, n]^T
            full = dt == DType.Float64
                ? Eager.Make(Kernels.BatchedGemm(Eager.Data<double>(g), gd, false, Eager.Data<double>(other), bd, true, batch, m, n, k), [.. batch, m, k], weak)
                : Eager.Make(Kernels.BatchedGemm(Eager.Data<float>(g), gd, false, Eager.Data<float>(other), bd, true, batch, m, n, k), [.. batch, m, k], weak);
        }
        else
        {
            // ct_b[.., k, n] = a[.., m, k]^T @ g[.., m, n]
            full = dt == DType.Float64
                ? Eager.Make(Kernels.BatchedGemm(Eager.Data<double>(other), ad, true, Eager.Data<double>(g), gd, false, batch, k, m, n), [.. batch, k, n], weak)
                : Eager.Make(Kernels.BatchedGemm(Eager.Data<float>(other), ad, true, Eager.Data<float>(g), gd, false, batch, k, m, n), [.. batch, k, n], weak);
        }
        var promoted = forA ? ad : bd;
        var summed = SumTo(full, new Aval(promoted, full.DType, weak, adopt: true));
        return Np.Reshape(summed, target.Dims);
    }
}
