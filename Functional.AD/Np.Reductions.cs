namespace Functional.AD;

// Reductions over several axes, Min, Argmin, Var, Std, Any, All and the norms (declared in Primitives/Prims.Reductions.cs).
// Each is composed of the single-axis reductions: inside an expression it is read as those, so its derivatives, Vmap,
// Jit and Torch are theirs; eagerly it runs the same operations.
public static partial class Np
{
    /// <summary>
    /// The axes of a call as non-negative axes of x, each once, largest first (so that reducing them one by one without
    /// keepdims leaves the others where they are); a typed error naming the call and x's shape otherwise.
    /// </summary>
    static int[] CheckedAxes(Tensor x, Axes axes, bool keepdims, Func<string> call)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (axes.Items.Count == 0)
            throw new ShapeException(call(), [x.Aval], "no axes given; give at least one axis, or use the overload with axis: null to reduce every axis");
        var r = axes.Items.Select(a => Eager.Axis(a, x.Rank, call, [x.Aval])).ToArray();
        if (r.Distinct().Count() != r.Length)
            throw new ShapeException(call(), [x.Aval], $"the axes {axes} name an axis twice (for rank {x.Rank}); give each axis once");
        // the order the expression reader uses (Prims.ReadOrder), so an eager call sums in the same order as its compiled
        // form, to the last bit: non-negative axes largest first, negative ones most negative first (each leaves the
        // others' indices as they are); a mix of signs in that order when keepdims keeps every index
        var raw = axes.Items.ToArray();
        bool neg = raw.Any(a => a < 0), pos = raw.Any(a => a >= 0);
        if (!(neg && pos) || keepdims) return pos ? raw.OrderByDescending(a => a).ToArray() : raw.OrderBy(a => a).ToArray();
        return r.OrderByDescending(a => a).ToArray();
    }

    static Tensor EachAxis(Tensor x, Axes axes, bool keepdims, string name, Func<Tensor, int, bool, Tensor> one)
    {
        foreach (var a in CheckedAxes(x, axes, keepdims, () => $"Np.{name}(x: {x.Aval}, axes: {axes}, keepdims: {(keepdims ? "true" : "false")})"))
            x = one(x, a, keepdims);
        return x;
    }

    /// <summary>
    /// The sum over several axes (numpy's <c>sum(x, axis=(0, 2))</c>); keepdims keeps them with size 1. Inside an
    /// expression, write the axes all non-negative or all negative unless keepdims is true (the rank is not known when
    /// the expression is read). Example: <c>Sum(Ones([2, 3, 4]), Axes.Of(0, 2), false)</c> is <c>[8., 8., 8.]</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The sums.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor Sum(Tensor x, Axes axes, bool keepdims) => EachAxis(x, axes, keepdims, "Sum", (t, a, k) => Sum(t, a, k));

    /// <summary>
    /// The mean over several axes. Example: <c>Mean([[1, 2], [3, 6]], Axes.Of(0, 1), false)</c> is <c>3</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The means (float32 for integers).</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor Mean(Tensor x, Axes axes, bool keepdims) => EachAxis(x, axes, keepdims, "Mean", (t, a, k) => Mean(t, a, k));

    /// <summary>
    /// The maximum over several axes; NaN propagates. Its derivative splits the cotangent evenly among all the tied
    /// maxima of each reduced block, as JAX does. Example: <c>Max([[1, 5], [7, 2]], Axes.Of(0, 1), true)</c> is <c>[[7.]]</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The maxima.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, no axes, or an empty axis.</exception>
    public static Tensor Max(Tensor x, Axes axes, bool keepdims) => EachAxis(x, axes, keepdims, "Max", (t, a, k) => Max(t, a, k));

    /// <summary>
    /// The minimum over one axis or all (<c>-Max(-x)</c>); NaN propagates; ties split the cotangent evenly, as JAX does.
    /// Example: <c>Min([[1, 5], [3, 4]], 0, false)</c> is <c>[1., 4.]</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null for every axis.</param>
    /// <param name="keepdims">Whether the reduced axis stays with size 1.</param><returns>The minima.</returns>
    /// <exception cref="ShapeException">The axis is out of range, or the reduced axis is empty.</exception>
    public static Tensor Min(Tensor x, int? axis, bool keepdims) => Neg(Max(Neg(x), axis, keepdims));

    /// <summary>The minimum of every element. Example: <c>Min([3, 1, 2])</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The minimum, rank 0.</returns>
    public static Tensor Min(Tensor x) => Min(x, null, false);

    /// <summary>
    /// The minimum over several axes; ties split the cotangent evenly among all the tied minima of each block.
    /// Example: <c>Min([[1, 5], [7, 2]], Axes.Of(0, 1), false)</c> is <c>1</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The minima.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, no axes, or an empty axis.</exception>
    public static Tensor Min(Tensor x, Axes axes, bool keepdims) => Neg(EachAxis(Neg(x), axes, keepdims, "Min", (t, a, k) => Max(t, a, k)));

    /// <summary>
    /// <c>log Σ exp x</c> over several axes, computed stably. Example: <c>LogSumExp(Zeros([2, 2]), Axes.Of(0, 1), false)</c> is <c>ln 4</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The log-sum-exps.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor LogSumExp(Tensor x, Axes axes, bool keepdims) => EachAxis(x, axes, keepdims, "LogSumExp", (t, a, k) => LogSumExp(t, a, k));

    /// <summary>
    /// The index of the first minimum along an axis (of the flattened tensor when axis is null), int32, as
    /// <c>Argmax(-x)</c> (so a NaN counts as the minimum, as numpy's argmin; an int32/int64 equal to its type's
    /// minimum value is not handled). Example: <c>Argmin([3, 1, 1])</c> is <c>1</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null for the flattened tensor.</param><returns>The indices.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Argmin(Tensor x, int? axis) => Argmax(Neg(x), axis);

    /// <summary>The index of the first minimum of the flattened tensor. Example: <c>Argmin([3, 1, 1])</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The index, rank 0, int32.</returns>
    public static Tensor Argmin(Tensor x) => Argmin(x, null);

    // ---------------------------------------------------------------- variance and standard deviation

    static Tensor VarOf(Tensor x, Func<Tensor, bool, Tensor> mean, Func<Tensor, bool, Tensor> sum, bool keepdims, int ddof)
    {
        var d = Sub(x, mean(x, true));
        return Div(sum(Mul(d, d), keepdims), Sub(sum(OnesLike(d), keepdims), ddof));
    }

    /// <summary>
    /// The variance <c>Σ (x - mean)² / (n - ddof)</c> over one axis or all (numpy's <c>var</c>; ddof 1 is the unbiased
    /// sample variance). Example: <c>Var([1, 2, 3, 4], null, false, 1)</c> is <c>1.6667</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null for every axis.</param>
    /// <param name="keepdims">Whether the reduced axis stays with size 1.</param><param name="ddof">Subtracted from the count n.</param>
    /// <returns>The variance (float32 for integers).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Var(Tensor x, int? axis, bool keepdims, int ddof) => VarOf(x, (t, k) => Mean(t, axis, k), (t, k) => Sum(t, axis, k), keepdims, ddof);

    /// <summary>The population variance (ddof 0) over one axis or all. Example: <c>Var([1, 3], 0, false)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null.</param><param name="keepdims">Whether the axis stays with size 1.</param><returns>The variance.</returns>
    public static Tensor Var(Tensor x, int? axis, bool keepdims) => Var(x, axis, keepdims, 0);

    /// <summary>The population variance of every element. Example: <c>Var([1, 3])</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The variance, rank 0.</returns>
    public static Tensor Var(Tensor x) => Var(x, null, false, 0);

    /// <summary>
    /// The variance over several axes with ddof. Example: <c>Var([[1, 2], [3, 4]], Axes.Of(0, 1), false, 0)</c> is <c>1.25</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><param name="ddof">Subtracted from the count n.</param><returns>The variance.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor Var(Tensor x, Axes axes, bool keepdims, int ddof)
    {
        CheckedAxes(x, axes, keepdims, () => $"Np.Var(x: {x.Aval}, axes: {axes}, keepdims: {(keepdims ? "true" : "false")}, ddof: {ddof})");
        return VarOf(x, (t, k) => Mean(t, axes, k), (t, k) => Sum(t, axes, k), keepdims, ddof);
    }

    /// <summary>The population variance over several axes. Example: <c>Var([[1, 2], [3, 4]], Axes.Of(0, 1), false)</c> is <c>1.25</c>.</summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param><returns>The variance.</returns>
    public static Tensor Var(Tensor x, Axes axes, bool keepdims) => Var(x, axes, keepdims, 0);

    /// <summary>
    /// The standard deviation <c>√Var</c> over one axis or all, with ddof (numpy's <c>std</c>). Its derivative is
    /// infinite where every element is equal, as in JAX. Example: <c>Std([1, 3], null, false, 0)</c> is <c>1</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null.</param>
    /// <param name="keepdims">Whether the axis stays with size 1.</param><param name="ddof">Subtracted from the count n.</param><returns>The standard deviation.</returns>
    public static Tensor Std(Tensor x, int? axis, bool keepdims, int ddof) => Sqrt(Var(x, axis, keepdims, ddof));

    /// <summary>The population standard deviation over one axis or all. Example: <c>Std([1, 3], 0, false)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><param name="axis">The axis, or null.</param><param name="keepdims">Whether the axis stays with size 1.</param><returns>The standard deviation.</returns>
    public static Tensor Std(Tensor x, int? axis, bool keepdims) => Std(x, axis, keepdims, 0);

    /// <summary>The population standard deviation of every element. Example: <c>Std([1, 3])</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The standard deviation, rank 0.</returns>
    public static Tensor Std(Tensor x) => Std(x, null, false, 0);

    /// <summary>The standard deviation over several axes with ddof. Example: <c>Std([[1, 1], [3, 3]], Axes.Of(0, 1), false, 0)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param>
    /// <param name="ddof">Subtracted from the count n.</param><returns>The standard deviation.</returns>
    public static Tensor Std(Tensor x, Axes axes, bool keepdims, int ddof) => Sqrt(Var(x, axes, keepdims, ddof));

    /// <summary>The population standard deviation over several axes. Example: <c>Std([[1, 1], [3, 3]], Axes.Of(0, 1), false)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param><returns>The standard deviation.</returns>
    public static Tensor Std(Tensor x, Axes axes, bool keepdims) => Std(x, axes, keepdims, 0);

    // ---------------------------------------------------------------- Any, All

    /// <summary>Whether any element along an axis (or of all) is non-zero (NaN counts as non-zero), a bool tensor. Example: <c>Any([0, 0, 2], null, false)</c> is <c>true</c>.</summary>
    /// <param name="x">The operand (any dtype).</param><param name="axis">The axis, or null.</param><param name="keepdims">Whether the axis stays with size 1.</param><returns>A bool tensor.</returns>
    public static Tensor Any(Tensor x, int? axis, bool keepdims) => Greater(Sum(LogicalNot(Equal(x, 0.0)), axis, keepdims), 0.0);

    /// <summary>Whether any element is non-zero. Example: <c>Any([0, 0])</c> is <c>false</c>.</summary>
    /// <param name="x">The operand.</param><returns>A rank-0 bool tensor.</returns>
    public static Tensor Any(Tensor x) => Any(x, null, false);

    /// <summary>Whether any element over several axes is non-zero. Example: <c>Any([[0, 1], [0, 0]], Axes.Of(0, 1), false)</c> is <c>true</c>.</summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param><returns>A bool tensor.</returns>
    public static Tensor Any(Tensor x, Axes axes, bool keepdims) => Greater(Sum(LogicalNot(Equal(x, 0.0)), axes, keepdims), 0.0);

    /// <summary>Whether every element along an axis (or of all) is non-zero, a bool tensor. Example: <c>All([1, 0], null, false)</c> is <c>false</c>.</summary>
    /// <param name="x">The operand (any dtype).</param><param name="axis">The axis, or null.</param><param name="keepdims">Whether the axis stays with size 1.</param><returns>A bool tensor.</returns>
    public static Tensor All(Tensor x, int? axis, bool keepdims) => Equal(Sum(Equal(x, 0.0), axis, keepdims), 0.0);

    /// <summary>Whether every element is non-zero. Example: <c>All([1, 2])</c> is <c>true</c>.</summary>
    /// <param name="x">The operand.</param><returns>A rank-0 bool tensor.</returns>
    public static Tensor All(Tensor x) => All(x, null, false);

    /// <summary>Whether every element over several axes is non-zero. Example: <c>All([[1, 1], [0, 1]], Axes.Of(0, 1), false)</c> is <c>false</c>.</summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param><returns>A bool tensor.</returns>
    public static Tensor All(Tensor x, Axes axes, bool keepdims) => Equal(Sum(Equal(x, 0.0), axes, keepdims), 0.0);

    // ---------------------------------------------------------------- norms

    /// <summary>
    /// The Frobenius norm <c>√Σ x²</c> of every element (the 2-norm of the flattened tensor). Its derivative at zero
    /// is NaN, as JAX's. Example: <c>Norm([3, 4])</c> is <c>5</c>.
    /// </summary>
    /// <param name="x">The operand.</param><returns>The norm, rank 0.</returns>
    public static Tensor Norm(Tensor x) => Sqrt(Sum(Mul(x, x), null, false));

    /// <summary>
    /// The Frobenius norm over several axes (numpy's <c>norm(x, 'fro', axis=(-2, -1))</c> for a stack of matrices).
    /// Example: <c>Norm([[1, 2], [2, 4]], Axes.Of(0, 1), false)</c> is <c>5</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes.</param><param name="keepdims">Whether they stay with size 1.</param><returns>The norms.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor Norm(Tensor x, Axes axes, bool keepdims) => Sqrt(Sum(Mul(x, x), axes, keepdims));

    /// <summary>
    /// The vector p-norm along an axis, or of the flattened tensor when axis is null (jax.numpy.linalg.vector_norm):
    /// ord 1 is <c>Σ|x|</c>, 2 is <c>√Σ x²</c>, +∞ is <c>max |x|</c>, -∞ is <c>min |x|</c>, any other p &gt; 0 is
    /// <c>(Σ |x|^p)^(1/p)</c>. Example: <c>VectorNorm([3, -4], 1, null, false)</c> is <c>7</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="ord">The order: 1, 2, ±∞, or any p &gt; 0.</param>
    /// <param name="axis">The axis, or null for the flattened tensor.</param><param name="keepdims">Whether the axis stays with size 1.</param><returns>The norms.</returns>
    /// <exception cref="ArgumentOutOfRangeException">ord is not positive and not -∞ (or is NaN).</exception>
    public static Tensor VectorNorm(Tensor x, double ord, int? axis, bool keepdims)
    {
        CheckOrd(ord, () => $"Np.VectorNorm(x: {x.Aval}, ord: {ord}, axis: {(axis is null ? "null" : axis)}, keepdims: {(keepdims ? "true" : "false")})");
        return ord switch
        {
            1 => Sum(Abs(x), axis, keepdims),
            2 => Sqrt(Sum(Mul(x, x), axis, keepdims)),
            double.PositiveInfinity => Max(Abs(x), axis, keepdims),
            double.NegativeInfinity => Min(Abs(x), axis, keepdims),
            _ => Pow(Sum(Pow(Abs(x), ord), axis, keepdims), 1 / ord),
        };
    }

    internal static void CheckOrd(double ord, Func<string> call)
    {
        if (!(ord > 0) && ord != double.NegativeInfinity)
            throw new ArgumentOutOfRangeException(nameof(ord), ord, $"{call()}: ord must be 1, 2, +∞, -∞ or another p > 0");
    }
}
