using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

/// <summary>
/// One line of the test table: a function exercising a primitive, how to generate its inputs, and how closely its
/// gradient must match central differences. Generic properties run over every spec.
/// </summary>
/// <example><code>
/// var spec = new PrimitiveSpec
/// {
///     Name = "softplus",
///     Function = (Expression&lt;Func&lt;Tensor, Tensor&gt;&gt;)(x =&gt; Np.Log(1 + Np.Exp(x))),
///     Inputs = dtype =&gt; Gens.Tensor(dtype).Select(t =&gt; new[] { t }),
/// };
/// </code></example>
public sealed partial class PrimitiveSpec
{
    /// <summary>A short name (the primitive and the case).</summary>
    public required string Name { get; init; }
    /// <summary>The function: <c>Func&lt;Tensor, ..., Tensor&gt;</c> with 1 to 3 tensor arguments.</summary>
    public required LambdaExpression Function { get; init; }
    /// <summary>Inputs (in the function's domain) for a dtype.</summary>
    public required Func<DType, Gen<Tensor[]>> Inputs { get; init; }
    /// <summary>Tolerance of the float64 finite-difference check (relative, see <see cref="GradCheck"/>).</summary>
    public double Tolerance { get; init; } = 1e-6;
    /// <summary>Finite-difference step (larger for functions that round through float32).</summary>
    public double Step { get; init; } = 1e-5;
    /// <summary>False when the derivative is zero by definition (comparisons, sign, argmax): the gradient must then be exactly zero.</summary>
    public bool FiniteDifferences { get; init; } = true;
    /// <summary>True for functions with only a reverse rule (a custom VJP): forward-mode properties skip them.</summary>
    public bool ReverseOnly { get; init; }
    /// <summary>Whether the spec's gradient can be differentiated again (loops: their reverse-mode primitives have no rules of their own yet).</summary>
    public bool SecondOrder { get; init; } = true;
    /// <summary>Number of tensor arguments.</summary>
    public int Arity => Function.Parameters.Count;
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>The spec table: at least one spec for every primitive of the library's table.</summary>
/// <example><code>
/// foreach (var spec in Specs.All)
///     Console.WriteLine($"{spec.Name}: arity {spec.Arity}, tolerance {spec.Tolerance}");
/// </code></example>
public static partial class Specs
{
    static Gen<Tensor[]> One(DType t, Domain d = Domain.Any, int minRank = 0, int maxRank = 3) => Gens.Tensor(t, d, minRank, maxRank).Select(x => new[] { x });
    static Gen<Tensor[]> OneOfShape(DType t, int[] shape, Domain d = Domain.Any) => Gens.Tensor(shape, t, d).Select(x => new[] { x });
    static Gen<Tensor[]> Distinct(DType t, int minRank = 0) => Gens.Shape(minRank, 3).SelectMany(s => Gens.DistinctTensor(s, t)).Select(x => new[] { x });
    static Gen<Tensor[]> Pair(DType t, Domain a = Domain.Any, Domain b = Domain.Any) => Gens.BroadcastingPair(t, a, b);
    static Gen<Tensor[]> Shapes(DType t, params int[][] shapes) =>
        Gen.CollectToArray(shapes.Select(s => Gens.Tensor(s, t)));
    static Gen<Tensor[]> NoTies(DType t) =>
        Gens.BroadcastingPair(t).Where(p => -(double)Max(-Abs(p[0] - p[1])) > 0.05);
    /// <summary>x, lo, hi of one shape with lo &lt; hi (lo, hi in [-1.5, 1.5]) and x at least 0.05 from both bounds.</summary>
    static Gen<Tensor[]> ClipInputs(DType t) =>
        Gens.Shape(0, 2).SelectMany(s => Gen.CollectToArray(new[] { Gens.Tensor(s, t), Gens.Tensor(s, t, Domain.Unit), Gens.Tensor(s, t, Domain.Unit) }))
            .Select(p => new[] { p[0], Minimum(p[1], p[2]) * 1.5 - 0.1, Maximum(p[1], p[2]) * 1.5 + 0.1 })
            .Where(p => -(double)Max(-Abs(p[0] - p[1])) > 0.05 && -(double)Max(-Abs(p[0] - p[2])) > 0.05);

    /// <summary>A pooling operand's shape: <c>[n, c, h(, w)]</c> with n, c in 1 .. 2 and each spatial size in <paramref name="min"/> .. min + 3.</summary>
    static Gen<int[]> PoolShape(int spatial, int min, int maxBatch) =>
        from n in Gen.Choose(1, maxBatch)
        from c in Gen.Choose(1, 2)
        from hw in Gen.Choose(min, min + 3).ArrayOf(spatial)
        select new[] { n, c }.Concat(hw).ToArray();
    static Gen<Tensor[]> DistinctOfShape(DType t, int[] shape) => Gens.DistinctTensor(shape, t).Select(x => new[] { x });

    static Gen<(int[] A, int[] B, int[] Out)> DotShapes =>
        from m in Gen.Choose(1, 4)
        from k in Gen.Choose(1, 4)
        from n in Gen.Choose(1, 4)
        from c in Gen.Choose(0, 3)
        select c switch
        {
            0 => (new[] { k }, new[] { k }, Array.Empty<int>()),
            1 => (new[] { m, k }, new[] { k }, new[] { m }),
            2 => (new[] { k }, new[] { k, n }, new[] { n }),
            _ => (new[] { m, k }, new[] { k, n }, new[] { m, n }),
        };

    static Gen<(int[] A, int[] B, int[] Out)> MatMulShapes =>
        from m in Gen.Choose(1, 3)
        from k in Gen.Choose(1, 3)
        from n in Gen.Choose(1, 3)
        from batch in Gen.Choose(1, 3)
        from c in Gen.Choose(0, 4)
        select c switch
        {
            0 => (new[] { m, k }, new[] { k, n }, new[] { m, n }),
            1 => (new[] { batch, m, k }, new[] { k, n }, new[] { batch, m, n }),
            2 => (new[] { batch, m, k }, new[] { 1, k, n }, new[] { batch, m, n }),
            3 => (new[] { k }, new[] { batch, k, n }, new[] { batch, n }),
            _ => (new[] { batch, m, k }, new[] { k }, new[] { batch, m }),
        };

    static PrimitiveSpec S(string name, Expression<Func<Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, double tol = 1e-6, bool fd = true, double step = 1e-5, bool fuzzed = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Tolerance = tol, FiniteDifferences = fd, Step = step, Fuzzed = fuzzed };
    static PrimitiveSpec S(string name, Expression<Func<Tensor, Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, double tol = 1e-6, bool fd = true, bool fuzzed = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Tolerance = tol, FiniteDifferences = fd, Fuzzed = fuzzed };
    static PrimitiveSpec S(string name, Expression<Func<Tensor, Tensor, Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, double tol = 1e-6, bool fd = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Tolerance = tol, FiniteDifferences = fd };

    static readonly Expression<Func<Tensor, Tensor>> StableSoftplus =
        Ad.CustomJvp<Tensor, Tensor>(x => Log(1 + Exp(x)), (x, dx) => dx * Sigmoid(x));
    static readonly Expression<Func<Tensor, Tensor>> TanhWithVjp =
        Ad.CustomVjp<Tensor, Tensor>(x => Tanh(x), (x, ct) => ct * (1 - Tanh(x) * Tanh(x)));

    static readonly Tensor C23 = Np.Zeros([2, 3], DType.Float64);

    static readonly Tensor Idx = new(new[] { 3.0, 0, 3, 1 });
    /// <summary>Per-example indices (two examples of three, a repeat and a negative one): what a batched Take gathers with.</summary>
    static readonly Tensor IdxB = new(new[] { 3.0, 0, 3, -1, 1, 2 }, [2, 3]);
    static Aval A(params int[] shape) => new(shape, DType.Float64);

    /// <summary>Every spec.</summary>
    public static IReadOnlyList<PrimitiveSpec> All { get; } = Build();

    static List<PrimitiveSpec> Build() =>
    [
        // elementwise, one operand
        S("Neg", x => -x, t => One(t)),
        S("Exp", x => Exp(x), t => One(t)),
        S("Log", x => Log(x), t => One(t, Domain.Positive)),
        S("Tanh", x => Tanh(x), t => One(t)),
        S("Sin", x => Sin(x), t => One(t)),
        S("Cos", x => Cos(x), t => One(t)),
        S("Sqrt", x => Sqrt(x), t => One(t, Domain.Positive)),
        S("Abs", x => Abs(x), t => One(t, Domain.AwayFromZero)),
        S("Sign", x => Sign(x), t => One(t, Domain.AwayFromZero), fd: false),
        S("Sigmoid", x => Sigmoid(x), t => One(t)),
        S("Softplus", x => Softplus(x), t => One(t)),
        S("Relu", x => Relu(x), t => One(t, Domain.AwayFromZero)),
        S("StopGradient", x => StopGradient(x), t => One(t), fd: false),
        S("Log1p", x => Log1p(x), t => One(t, Domain.Unit)),
        S("Expm1", x => Expm1(x), t => One(t)),
        S("Erf", x => Erf(x), t => One(t)),
        S("Atan", x => Atan(x), t => One(t)),
        S("Square", x => Square(x), t => One(t)),
        S("Clip", (x, lo, hi) => Clip(x, lo, hi), t => ClipInputs(t)),
        // the elementwise vocabulary (Specs.Elementwise.cs)
        .. ElementwiseVocabulary(),
        // the shape vocabulary (Specs.Shapes.cs)
        .. ShapeVocabulary(),
        // the reduction vocabulary (Specs.Reductions.cs)
        .. ReductionVocabulary(),
        // the product and cumulative vocabulary (Specs.Cumulative.cs)
        .. CumulativeVocabulary(),
        // contractions and sorting (Specs.Contractions.cs)
        .. ContractionsAndSorting(),
        // indexing and slicing (Specs.Indexing.cs)
        .. IndexingVocabulary(),
        // elementwise, two operands, numpy broadcasting
        S("Add", (a, b) => a + b, t => Pair(t)),
        S("Sub", (a, b) => a - b, t => Pair(t)),
        S("Mul", (a, b) => a * b, t => Pair(t)),
        S("Div", (a, b) => a / b, t => Pair(t, Domain.Any, Domain.AwayFromZero)),
        S("Np.Add", (a, b) => Add(a, b), t => Pair(t)),
        S("Mul by double", x => x * 2.5 - 1.0 / (x * x + 1), t => One(t)),
        S("Pow", (a, b) => Pow(a, b), t => Pair(t, Domain.Positive, Domain.Any)),
        // C#'s %: piecewise linear, with jumps where a / b crosses an integer; the operands are kept where a / b stays in
        // (2.33, 2.88), so the quotient truncates to 2 and finite differences see no jump
        // (not in random programs: there the operands are not kept away from the jumps)
        S("Remainder", (a, b) => (2.2 + 0.1 * Tanh(a)) % (0.85 + 0.05 * Tanh(b)), t => Pair(t), fuzzed: false),
        S("Maximum", (a, b) => Maximum(a, b), t => NoTies(t)),
        S("Minimum", (a, b) => Minimum(a, b), t => NoTies(t)),
        S("Greater", (a, b) => Greater(a, b), t => NoTies(t), fd: false),
        S("Less", (a, b) => a < b, t => NoTies(t), fd: false),
        S("GreaterEqual", (a, b) => a >= b, t => NoTies(t), fd: false),
        S("LessEqual", (a, b) => LessEqual(a, b), t => NoTies(t), fd: false),
        S("Equal", (a, b) => Equal(a, b), t => NoTies(t), fd: false),
        S("Where", (c, a, b) => Where(c > 0, a, b), t => Gens.BroadcastPair().SelectMany(s =>
            Gen.CollectToArray(new[] { Gens.Tensor(s.A, t, Domain.AwayFromZero), Gens.Tensor(s.B, t), Gens.Tensor(s.A, t) }))),
        // products
        S("Dot", (a, b) => Dot(a, b), t => DotShapes.SelectMany(s => Shapes(t, s.A, s.B))),
        S("DotTA", (g, b) => Lax.DotTA(g, b), t => DotShapes.SelectMany(s => Shapes(t, s.Out, s.B))),
        S("DotTB", (a, g) => Lax.DotTB(a, g), t => DotShapes.SelectMany(s => Shapes(t, s.A, s.Out))),
        S("MatMul", (a, b) => MatMul(a, b), t => MatMulShapes.SelectMany(s => Shapes(t, s.A, s.B))),
        S("MatMulTA", (g, b) => Lax.MatMulTA(g, b, A(3, 2, 4)), t => Shapes(t, [3, 2, 5], [4, 5])),
        S("MatMulTB", (a, g) => Lax.MatMulTB(a, g, A(1, 4, 5)), t => Shapes(t, [3, 2, 4], [3, 2, 5])),
        // convolutions: Lax.Conv and its two transposes (strides, padding, dilations, feature and batch groups, layouts)
        S("Conv", (x, w) => Lax.Conv(x, w, new[] { 1, 1 }, "SAME", null, null, 1, 1, ConvLayout.ChannelsFirst), t => Shapes(t, [2, 3, 5, 4], [4, 3, 3, 2])),
        S("Conv(strides, padding, dilations, groups)", (x, w) => Lax.Conv(x, w, new[] { 2, 1 }, new[] { 1, 0, -1, 2 }, new[] { 1, 2 }, new[] { 2, 1 }, 2, 1, ConvLayout.ChannelsFirst),
            t => Shapes(t, [2, 4, 6, 4], [4, 2, 2, 3])),
        S("Conv1d(batch groups)", (x, w) => Lax.Conv(x, w, new[] { 2 }, "VALID", null, null, 1, 2, ConvLayout.ChannelsFirst), t => Shapes(t, [4, 3, 7], [4, 3, 2])),
        S("Conv3d(channels last)", (x, w) => Lax.Conv(x, w, new[] { 1, 2, 1 }, "SAME", null, new[] { 1, 1, 2 }, 1, 1, ConvLayout.ChannelsLast), t => Shapes(t, [1, 3, 4, 5, 2], [2, 2, 2, 2, 3])),
        S("Np.Conv2d", (x, w) => Conv2d(x, w, 2, 1), t => Shapes(t, [2, 2, 5, 5], [3, 2, 3, 3])),
        S("Np.ConvTranspose2d", (x, w) => ConvTranspose2d(x, w, 2, 1, 1, 1, 2), t => Shapes(t, [1, 4, 3, 3], [4, 1, 3, 2])),
        S("ConvTransposeLhs", (g, w) => Lax.ConvTransposeLhs(g, w, A(2, 4, 6, 5), new[] { 2, 1 }, "SAME", null, new[] { 1, 2 }, 2, 1, ConvLayout.ChannelsFirst),
            t => Shapes(t, [2, 4, 3, 5], [4, 2, 3, 2])),
        S("ConvTransposeRhs", (x, g) => Lax.ConvTransposeRhs(x, g, A(4, 3, 2, 2), new[] { 1, 2 }, new[] { 1, 1, 0, 1 }, new[] { 2, 1 }, null, 1, 2, ConvLayout.ChannelsFirst),
            t => Shapes(t, [4, 3, 4, 5], [2, 4, 8, 3])),
        // shapes
        S("Transpose", x => Transpose(x, null), t => One(t)),
        S("Transpose(axes)", x => Transpose(x, new[] { 1, 0, 2 }), t => OneOfShape(t, [2, 3, 4])),
        S("Reshape", x => Reshape(x, new[] { 2, -1 }), t => Gens.Shape(1, 3).Where(s => s.Aggregate(1, (a, b) => a * b) % 2 == 0).SelectMany(s => OneOfShape(t, s))),
        S("ReshapeTo", x => Lax.ReshapeTo(x, A(6)), t => Gen.Elements(new[] { 2, 3 }, new[] { 3, 2 }, new[] { 6 }, new[] { 1, 6 }).SelectMany(s => OneOfShape(t, s))),
        S("BroadcastTo(shape)", x => BroadcastTo(x, new[] { 2, 3, 4 }), t => Gen.Elements(new int[0], new[] { 4 }, new[] { 3, 1 }, new[] { 1, 3, 4 }, new[] { 2, 1, 1 }).SelectMany(s => OneOfShape(t, s))),
        S("Lax.BroadcastTo", x => Lax.BroadcastTo(x, A(2, 3, 4)), t => Gen.Elements(new int[0], new[] { 4 }, new[] { 3, 1 }).SelectMany(s => OneOfShape(t, s))),
        S("SumTo", x => Lax.SumTo(x, A(3, 1)), t => Gen.Elements(new[] { 3, 1 }, new[] { 3, 4 }, new[] { 2, 3, 4 }, new[] { 2, 3, 1 }).SelectMany(s => OneOfShape(t, s))),
        // reductions
        S("Sum", x => Sum(x, null, false), t => One(t)),
        S("Sum(axis: 0)", x => Sum(x, 0, false), t => One(t, minRank: 1)),
        S("Sum(axis: -1, keepdims)", x => Sum(x, -1, true), t => One(t, minRank: 1)),
        S("Mean", x => Mean(x, null, false), t => One(t)),
        S("Mean(axis: 0, keepdims)", x => Mean(x, 0, true), t => One(t, minRank: 1)),
        S("Max", x => Max(x, null, false), t => Distinct(t)),
        S("Max(axis: -1)", x => Max(x, -1, false), t => Distinct(t, 1)),
        S("ExpandReduced", g => Lax.ExpandReduced(g, A(2, 3), 1, false), t => OneOfShape(t, [2])),
        S("ExpandReducedMean", g => Lax.ExpandReducedMean(g, A(2, 3), 0, true), t => OneOfShape(t, [1, 3])),
        S("LogSumExp", x => LogSumExp(x, null, false), t => One(t)),
        S("LogSumExp(axis: -1, keepdims)", x => LogSumExp(x, -1, true), t => One(t, minRank: 1)),
        S("Softmax", x => Softmax(x, -1), t => One(t, minRank: 1)),
        S("Softmax(axis: 0)", x => Softmax(x, 0), t => One(t, minRank: 1)),
        S("LogSoftmax", x => LogSoftmax(x, -1), t => One(t, minRank: 1)),
        S("Argmax", x => Argmax(x, -1), t => Distinct(t, 1), fd: false),
        // indexing and joining
        S("Take", x => Take(x, Idx, 0), t => Gens.Shape(0, 2).SelectMany(s => OneOfShape(t, [4, .. s]))),
        S("Take(axis: 1)", x => Take(x, Idx, 1), t => OneOfShape(t, [2, 4])),
        S("ScatterAdd", g => Lax.ScatterAdd(g, Idx, 0, A(5, 3)), t => OneOfShape(t, [4, 3])),
        S("TakeBatched", x => Lax.TakeBatched(x, IdxB, 0, 1), t => OneOfShape(t, [2, 4, 3])),
        S("ScatterAddBatched", g => Lax.ScatterAddBatched(g, IdxB, 0, 1, A(2, 4, 2)), t => OneOfShape(t, [2, 3, 2])),
        S("OneHot", x => OneHot(x, 4, DType.Float64), t => Gen.Choose(0, 3).ArrayOf(3).Select(v => new[] { new Tensor(v.Select(i => (double)i).ToArray()).AsType(t) }), fd: false),
        S("Concatenate", (a, b) => Concatenate(new[] { a, b }, 0), t => Gen.Choose(1, 3).SelectMany(n => Shapes(t, [n, 3], [2, 3]))),
        S("Concatenate(axis: 1, three)", (a, b, c) => Concatenate(new[] { a, b, c }, 1), t => Shapes(t, [2, 1], [2, 3], [2, 2])),
        S("Stack", (a, b) => Stack(new[] { a, b }, 0), t => Gens.Shape(0, 2).SelectMany(s => Shapes(t, s, s))),
        S("Stack(axis: -1)", (a, b, c) => Stack(new[] { a, b, c }, -1), t => Shapes(t, [2, 3], [2, 3], [2, 3])),
        S("SplitPart", g => Lax.SplitPart(g, 0, 1, new[] { A(2, 3), A(1, 3) }), t => OneOfShape(t, [3, 3])),
        S("PadPart", g => Lax.PadPart(g, 0, 1, new[] { A(2, 3), A(1, 3) }), t => OneOfShape(t, [1, 3])),
        S("Unstack", g => Lax.Unstack(g, A(2, 4), 1, 2), t => OneOfShape(t, [2, 4])),
        S("StackPart", g => Lax.StackPart(g, A(2, 4), 1, 2), t => OneOfShape(t, [2])),
        // pooling (Lax.ReduceWindow and its derivative primitives; distinct values, so no window has a tie)
        S("MaxPool2d", x => MaxPool2d(x, 2), t => PoolShape(2, 4, 2).SelectMany(s => DistinctOfShape(t, s))),
        S("MaxPool2d(3, 2, 1)", x => MaxPool2d(x, 3, 2, 1), t => PoolShape(2, 5, 2).SelectMany(s => DistinctOfShape(t, s))),
        S("AvgPool2d(3, 2, 1)", x => AvgPool2d(x, 3, 2, 1), t => PoolShape(2, 5, 2).SelectMany(s => OneOfShape(t, s))),
        S("MaxPool1d(3, 1, 1)", x => MaxPool1d(x, 3, 1, 1), t => PoolShape(1, 6, 1).SelectMany(s => DistinctOfShape(t, s))),
        S("ReduceWindowMax(SAME, dilation)", x => Lax.ReduceWindowMax(x, new[] { 2, 2 }, new[] { 1, 2 }, "SAME", new[] { 2, 1 }), t => DistinctOfShape(t, [5, 4])),
        S("ReduceWindowSum(explicit)", x => Lax.ReduceWindowSum(x, new[] { 1, 3 }, new[] { 1, 2 }, new[] { 0, 0, 2, 1 }), t => Gen.Choose(3, 6).SelectMany(n => OneOfShape(t, [2, n]))),
        S("ReduceWindow(Mean, SAME)", x => Lax.ReduceWindow(x, WindowReduction.Mean, new[] { 3, 2 }, new[] { 2, 2 }, "SAME"), t => OneOfShape(t, [5, 3])),
        S("SelectAndGather", (dx, x) => Lax.SelectAndGather(dx, x, new[] { 1, 3, 3 }, new[] { 1, 2, 2 }, new[] { 0, 0, 1, 1, 1, 1 }, new[] { 1, 1, 1 }),
            t => Gen.CollectToArray(new[] { Gens.Tensor([2, 5, 4], t), Gens.DistinctTensor([2, 5, 4], t) })),
        S("SelectAndScatterAdd", (ct, x) => Lax.SelectAndScatterAdd(ct, x, new[] { 1, 3, 3 }, new[] { 1, 2, 2 }, new[] { 0, 0, 1, 1, 1, 1 }, new[] { 1, 1, 1 }),
            t => Gen.CollectToArray(new[] { Gens.Tensor([2, 3, 2], t), Gens.DistinctTensor([2, 5, 4], t) })),
        S("ReduceWindowSumTranspose", ct => Lax.ReduceWindowSumTranspose(ct, A(5, 4), new[] { 2, 3 }, new[] { 2, 1 }, "SAME", new[] { 1, 2 }), t => OneOfShape(t, [3, 4])),
        // dtype conversions inside expressions: to float64 (exact from either float), and the tangent rule's own primitive
        // (not in random programs, whose float32 twins must stay float32)
        S("AsType", x => x.AsType(DType.Float64) * 2.0, t => One(t), fuzzed: false),
        S("CastTangent", (dx, x) => Lax.CastTangent(dx, x, DType.Float64), t => Gens.Shape(0, 2).SelectMany(s => Shapes(t, s, s)), fuzzed: false),
        S("TangentFor", (dx, x) => Lax.TangentFor(dx, x), t => Gens.Shape(0, 2).SelectMany(s => Shapes(t, s, s)), fuzzed: false),
        // conversions between tensors and scalars
        S("ToDouble/FromDouble", x => Lax.FromDouble(Math.Sin(Lax.ToDouble(Sum(x, null, false)))) * x, t => One(t)),
        S("implicit double", x => x + (Tensor)Math.Exp((double)Mean(x, null, false)), t => One(t)),
        S("ToFloat/FromFloat", x => Lax.FromFloat(MathF.Sin(Lax.ToFloat(Mean(x, null, false)))), t => One(t), tol: 1e-3, step: 1e-2),
        S("CastFloat/CastDouble", x => Lax.FromDouble((double)(float)Lax.ToDouble(Mean(x, null, false)) * 2), t => One(t), tol: 1e-3, step: 1e-2),
        S("Zeros/Ones", x => x * Lax.Ones(Lax.AvalOf(x)) + Lax.Zeros(Lax.AvalOf(x)), t => One(t)),
        // Jacobian layouts
        S("Basis", x => JacobianLayout.Basis(x, 0), t => One(t), fd: false),
        S("JacobianLayout.FromRows", r => JacobianLayout.FromRows(r, C23, 0), t => OneOfShape(t, [6, 2])),
        S("JacobianLayout.ToRows", j => JacobianLayout.ToRows(j, C23, 0), t => OneOfShape(t, [2, 2, 3])),
        S("JacobianLayout.FromColumns", r => JacobianLayout.FromColumns(r, C23, 0), t => OneOfShape(t, [6, 4])),
        S("JacobianLayout.ToColumns", j => JacobianLayout.ToColumns(j, C23, 0), t => OneOfShape(t, [2, 3, 4])),
        // user rules
        new() { Name = "CustomJvp", Function = (Expression<Func<Tensor, Tensor>>)(x => StableSoftplus.Invoke(x) * x), Inputs = t => One(t) },
        new() { Name = "CustomVjp", Function = (Expression<Func<Tensor, Tensor>>)(x => TanhWithVjp.Invoke(x) * x), Inputs = t => One(t), ReverseOnly = true },
        // batching (the structural primitives of Vmap)
        S("Vmap.MoveAxisToFront", x => Vmapped.MoveAxisToFront(x, -1), t => OneOfShape(t, [2, 3, 4])),
        S("Vmap.MoveAxisFromFront", x => Vmapped.MoveAxisFromFront(x, 1), t => OneOfShape(t, [2, 3, 4])),
        S("Vmap.AddBatchAxis", x => Vmapped.AddBatchAxis(x) * 1.5, t => One(t)),
        S("Vmap.BroadcastBatch", x => Vmapped.BroadcastBatch(x, A(3)), t => Gen.Elements(new[] { 1, 2 }, new[] { 3, 2 }, new[] { 1 }).SelectMany(s => OneOfShape(t, s))),
        // control flow
        S("Cond", x => (double)Sum(x, null, false) > 0 ? Sin(x) * x : Cos(x), t => One(t)),
        new() { Name = "Fold", Function = (Expression<Func<Tensor, Tensor>>)(x => Np.Fold(3, x, (double i, Tensor c) => Sin(c) * x + i)), Inputs = t => One(t), Fuzzed = false /* random programs build their own loops with random bodies (ProgramGen: Fold, Scan, While) */ },
        new() { Name = "Scan", Function = (Expression<Func<Tensor, Tensor>>)(x => Let(Scan(x, Sum(x, 0, false) * 0.5, (Tensor c, Tensor r) => Tuple(Sin(c) * r + 0.5 * c, c * r)), s => s.Item1 * 2 + Sum(s.Item2, 0, false))),
            Inputs = t => One(t, minRank: 1), Fuzzed = false },
        // Newton's square root of x^2 + 1 run by a While to a loose tolerance, then polished by three Newton steps (so that finite differences see a smooth function)
        new() { Name = "While", Function = (Expression<Func<Tensor, Tensor>>)(x => Let(x * x + 1, a => Np.Fold(3, While(c => Max(Abs(c * c - a), null, false) > 1e-5 * Max(a, null, false), c => 0.5 * (c + a / c), a), (double i, Tensor y) => 0.5 * (y + a / y)))),
            Inputs = t => One(t), Fuzzed = false },
        S("Cond(&&, ||, !, !=)", x => Let((double)Sum(x, null, false), s => !(s > 0 && s != 0.5 || s < -100) ? Exp(x) : x * x),
            // away from the branch boundary at Sum(x) = 0, where differences cross it
            t => One(t).Where(a => Math.Abs((double)Sum(a[0], null, false)) > 0.01)),
    ];
}
