using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD.Testing.Programs;

/// <summary>What an oracle concluded about one program.</summary>
/// <example><code>
/// var r = Oracles.Gradient.Check(ProgramGen.FromSeed(1));
/// if (r.Verdict == Verdict.Fail) Console.WriteLine(r.Report);
/// </code></example>
public enum Verdict
{
    /// <summary>The transformed program agreed with the oracle.</summary>
    Pass,
    /// <summary>It disagreed (or a transformation threw): a bug, unless the oracle itself is wrong.</summary>
    Fail,
    /// <summary>
    /// No conclusion: at every input drawn, the program was not smooth enough for finite differences to be trusted there
    /// (a kink of Abs/Relu/Max, or a branch switching, within the step), as two step sizes disagreed.
    /// </summary>
    Skipped,
}

/// <summary>The outcome of an oracle on one program, with a report naming the program, its inputs and the worst disagreement.</summary>
/// <param name="Verdict">The verdict.</param>
/// <param name="Report">What was compared; on failure, the program as C# with its inputs and seed.</param>
/// <example><code>
/// OracleResult r = Oracles.Vmap.Check(ProgramGen.FromSeed(42));
/// Assert.True(r.Ok, r.Report);        // Ok: passed or skipped
/// </code></example>
public sealed record OracleResult(Verdict Verdict, string Report)
{
    /// <summary>True unless the verdict is <see cref="Verdict.Fail"/>.</summary>
    public bool Ok => Verdict != Verdict.Fail;
    /// <inheritdoc/>
    public override string ToString() => $"{Verdict}: {Report}";
}

/// <summary>An oracle over random programs: a transformation checked against an independent computation.</summary>
/// <example><code>
/// sealed class MyOracle : IProgramOracle
/// {
///     public string Name =&gt; "my backend vs eager";
///     public OracleResult Check(RandomProgram p) =&gt; new(Verdict.Pass, "...");
/// }
/// Oracles.Register(new MyOracle());
/// </code></example>
public interface IProgramOracle
{
    /// <summary>A short name (a column of the fuzz report).</summary>
    string Name { get; }
    /// <summary>What kind of bug it catches (for docs/testing.md and the report).</summary>
    string Catches { get; }
    /// <summary>Checks one program.</summary>
    OracleResult Check(RandomProgram program);
}

/// <summary>
/// The oracles that exist, in a registry that the default tests and the long fuzz run iterate over.
/// </summary>
/// <example><code>
/// foreach (var oracle in Oracles.All)
///     Console.WriteLine($"{oracle.Name}: {oracle.Check(ProgramGen.FromSeed(7))}");
/// </code></example>
public static class Oracles
{
    /// <summary>
    /// Reverse mode: <c>Ad.Grad</c> of a random scalar projection <c>s(x) = Σ Sum(out_i * w_i)</c> against float64 central
    /// differences of the plainly compiled program along random directions.
    /// </summary>
    public static IProgramOracle Gradient { get; } = new GradientOracle();

    /// <summary>
    /// Second order: <c>Ad.Grad(x =&gt; &lt;Grad(s)(x), v&gt;)</c> (a Hessian-vector product, reverse over reverse) against
    /// central differences of the compiled gradient along <c>v</c>.
    /// </summary>
    public static IProgramOracle SecondOrder { get; } = new SecondOrderOracle();

    /// <summary>
    /// Float32: <c>Ad.Grad</c> of the program on float32 inputs keeps each leaf's dtype and shape and agrees with the
    /// float64 gradient to float32 accuracy.
    /// </summary>
    public static IProgramOracle Float32 { get; } = new Float32Oracle();

    /// <summary><c>Ad.Jit</c> against plain <c>Compile()</c>, on the program and on the gradient of its projection.</summary>
    public static IProgramOracle Jit { get; } = new JitOracle();

    /// <summary>Forward against reverse: the Jvp of the projection equals the gradient dotted with the direction.</summary>
    public static IProgramOracle DotTest { get; } = new DotTestOracle();

    /// <summary><c>Ad.Vmap</c> over a batch of input draws against a loop of the plain program.</summary>
    public static IProgramOracle Vmap { get; } = new VmapOracle();

    /// <summary><c>Ad.Vmap</c> of the projection's gradient against a loop of gradients (per-example gradients, loops included).</summary>
    public static IProgramOracle VmapGrad { get; } = new VmapGradOracle();

    /// <summary><c>Ad.Jit</c> of the vmapped program and of its vmapped gradient against their <c>Compile()</c> (batch 10).</summary>
    public static IProgramOracle JitVmap { get; } = new JitVmapOracle();

    static readonly List<IProgramOracle> all = [Gradient, SecondOrder, Float32, Jit, DotTest, Vmap, VmapGrad, JitVmap];

    /// <summary>
    /// Every registered oracle. The Torch backend against the CPU, and TorchSharp's autograd against <c>Ad.Grad</c>, need
    /// TorchSharp, which this assembly does not reference: the Torch test assembly adds them with <see cref="Register"/>
    /// (<c>TorchOracles.Register()</c>).
    /// </summary>
    public static IReadOnlyList<IProgramOracle> All => all;

    /// <summary>Adds an oracle to <see cref="All"/> (once).</summary>
    public static void Register(IProgramOracle oracle)
    {
        lock (all) if (!all.Any(o => o.Name == oracle.Name)) all.Add(oracle);
    }
}

/// <summary>Shared machinery: the scalar projection of a program, reflection for <c>Ad.Grad</c>, and error measures.</summary>
/// <example><code>
/// double e = ProgramOracleKit.Error(1.0, 1.0 + 1e-9);      // relative error, about 1e-9
/// var g = ProgramOracleKit.Grad(ProgramGen.FromSeed(5).Function);   // Ad.Grad of a LambdaExpression
/// </code></example>
public static class ProgramOracleKit
{
    /// <summary>The relative error <c>|a - b| / max(1, |a|, |b|)</c>; NaN against NaN is 0, NaN against a number infinite.</summary>
    public static double Error(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return double.IsNaN(a) && double.IsNaN(b) ? 0 : double.PositiveInfinity;
        if (a == b) return 0;
        return Math.Abs(a - b) / Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));
    }

    static readonly MethodInfo[] grads = typeof(Ad).GetMethods().Where(m => m.Name == nameof(Ad.Grad)).ToArray();
    static readonly MethodInfo npSum = typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!;
    static readonly MethodInfo npLet = typeof(Np).GetMethod(nameof(Np.Let))!;

    /// <summary><c>Ad.Grad(f)</c> for a lambda of one to four parameters whose result is a scalar.</summary>
    public static LambdaExpression Grad(LambdaExpression f)
    {
        var types = f.Parameters.Select(p => p.Type).Append(f.ReturnType).ToArray();
        var m = grads.Single(g => g.GetGenericArguments().Length == types.Length && g.GetParameters().Length == 1
            && g.GetParameters()[0].ParameterType.IsGenericType
            && g.GetParameters()[0].ParameterType.GetGenericTypeDefinition() == typeof(Expression<>)).MakeGenericMethod(types);
        try { return (LambdaExpression)m.Invoke(null, [f])!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    /// <summary>Calls a compiled delegate, unwrapping the reflection exception.</summary>
    public static object? Call(Delegate d, object[] args)
    {
        try { return d.DynamicInvoke(args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw(); throw; }
    }

    /// <summary>
    /// Random weights for each output of a program (seeded): a tensor of the output's shape, or a double, in [-1, 1].
    /// </summary>
    public static object[] Weights(RandomProgram p, int seed)
    {
        var rng = new Random(seed * 7919 + 17);
        return p.Outputs.Select(o => o.IsDouble ? (object)(rng.NextDouble() * 2 - 1)
            : new Tensor(Enumerable.Range(0, o.Shape!.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), o.Shape!)).ToArray();
    }

    /// <summary>
    /// The scalar projection <c>(x[, y]) =&gt; Σ (double)Np.Sum(out_i * w_i)</c> (a double output is multiplied by its
    /// weight), built around <c>program.Function</c> (invoked, so the reader inlines it), with <c>Np.Let</c> over a pair.
    /// </summary>
    public static LambdaExpression Projection(RandomProgram p, object[] weights)
    {
        var f = p.Function;
        var ps = f.Parameters.Select(q => Expression.Parameter(q.Type, q.Name)).ToArray();
        var call = Expression.Invoke(Expression.Constant(f, f.GetType()), ps);
        Expression Part(Expression o, object w) => o.Type == typeof(double)
            ? Expression.Multiply(o, Expression.Constant((double)w))
            : Expression.Convert(Expression.Call(npSum, Expression.Multiply(o, Expression.Constant((Tensor)w)),
                Expression.Constant(null, typeof(int?)), Expression.Constant(false)), typeof(double));
        Expression body;
        if (p.Outputs.Count == 1) body = Part(call, weights[0]);
        else
        {
            var o = Expression.Parameter(call.Type, "o");
            var inner = Expression.Add(Part(Expression.Field(o, "Item1"), weights[0]), Part(Expression.Field(o, "Item2"), weights[1]));
            body = Expression.Call(npLet.MakeGenericMethod(call.Type, typeof(double)), call,
                Expression.Lambda(typeof(Func<,>).MakeGenericType(call.Type, typeof(double)), inner, o));
        }
        var type = ps.Length == 1 ? typeof(Func<,>).MakeGenericType(ps[0].Type, typeof(double)) : typeof(Func<,,>).MakeGenericType(ps[0].Type, ps[1].Type, typeof(double));
        return Expression.Lambda(type, body, ps);
    }

    /// <summary>The same projection computed in plain C# from the outputs of the plainly compiled program (the independent side).</summary>
    public static double Project(RandomProgram p, object? outputs, object[] weights)
    {
        object?[] outs = p.Outputs.Count == 1 ? [outputs] : [outputs!.GetType().GetField("Item1")!.GetValue(outputs), outputs.GetType().GetField("Item2")!.GetValue(outputs)];
        double s = 0;
        for (int i = 0; i < outs.Length; i++)
        {
            if (outs[i] is double d) s += d * (double)weights[i];
            else
            {
                var t = ((Tensor)outs[i]!).AsType(DType.Float64).ToDoubleArray();
                var w = ((Tensor)weights[i]).ToDoubleArray();
                if (t.Length != w.Length) throw new InvalidOperationException($"output {i} has {t.Length} elements, the generator expected {w.Length}");
                for (int k = 0; k < t.Length; k++) s += t[k] * w[k];
            }
        }
        return s;
    }

    /// <summary>A unit-free random direction over the differentiated leaves, entries in [-1, 1].</summary>
    public static double[] Direction(int n, Random rng) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

    internal static double[] Axpy(double[] x, double a, double[] u) => x.Select((v, i) => v + a * u[i]).ToArray();

    /// <summary>
    /// The verdict on a disagreement: a failure, unless a branch of the program is decided by rounding at these inputs
    /// (see <see cref="RoundingDecidedBranch"/>), where any two correct implementations may take different branches;
    /// then the program is skipped. A thrown exception is always a failure.
    /// </summary>
    internal static OracleResult Fail(RandomProgram p, string what, object[] inputs, int inputSeed) =>
        !what.StartsWith("threw ", StringComparison.Ordinal) && RoundingDecidedBranch(p, inputs) is { } c
            ? new(Verdict.Skipped, $"a branch decided by rounding at this input: its condition is {c:G3}, zero up to rounding ({what})")
            : new(Verdict.Fail, Failure(p, what, inputs, inputSeed));

    /// <summary>Conditions closer to zero than this are taken to be zero up to rounding.</summary>
    public const double RoundingZero = 1e-10;

    /// <summary>
    /// The value of a branch condition <c>c &gt; 0</c> (a conditional's, or a <c>Np.Where</c>'s, elementwise) that is
    /// within <see cref="RoundingZero"/> of zero when the program runs on <paramref name="inputs"/> (in loops, at any
    /// trip), or null. Such a condition is usually zero in exact arithmetic (the variance of equal values,
    /// <c>a - a</c>): rounded one way it is exactly zero, another way a few ulps off, and which branch it takes depends
    /// on the order of the arithmetic, which the jit, the eager kernels and a gradient's forward pass are free to
    /// choose. An exact zero counts too, since the other implementation may be the one that rounds it away from zero;
    /// so a condition that every implementation computes as exactly zero (a Relu of a negative value) counts as well,
    /// and a failure on such a program is reported as Skipped (about 1% of programs have one at their inputs; see
    /// the skip rates). Null too when the program cannot run on these inputs (a Vmap oracle's batches).
    /// </summary>
    public static double? RoundingDecidedBranch(RandomProgram p, object[] inputs) =>
        Probe(p, inputs) is { } r && Math.Abs(r.ClosestCondition) <= RoundingZero ? r.ClosestCondition : null;

    /// <summary>
    /// Whether a value computed on the way to the program's outputs on <paramref name="inputs"/> is infinite or NaN (an
    /// overflow that a later saturating function hides, such as <c>Np.Tanh</c> of an overflowed <c>Np.Pow</c>). There
    /// the derivative multiplies an infinite partial by a zero cotangent, which IEEE arithmetic makes NaN, and two
    /// autodiffs may order or short-circuit that product differently (NaN in one, 0 in the other), so a NaN gradient
    /// against a finite one says nothing about either's rules. False when the program cannot run on these inputs.
    /// </summary>
    public static bool OverflowsOnTheWay(RandomProgram p, object[] inputs) => Probe(p, inputs)?.NonFinite ?? false;

    /// <summary>
    /// The largest magnitude of a finite value computed on the way to the program's outputs on
    /// <paramref name="inputs"/>: the scale of the terms a gradient sums, so of the rounding error a gradient that is
    /// zero in exact arithmetic can carry (a cancellation). 0 when the program cannot run on these inputs.
    /// </summary>
    public static double LargestOnTheWay(RandomProgram p, object[] inputs) => Probe(p, inputs)?.Largest ?? 0;

    /// <summary>What one run of a program computed on the way (see <see cref="ValueProbe"/>).</summary>
    record struct ProbeResult(double ClosestCondition, bool NonFinite, double Largest);

    /// <summary>The program run once with every value recorded by <see cref="ValueProbe"/>; null when it cannot run on these inputs (a Vmap oracle's batches).</summary>
    static ProbeResult? Probe(RandomProgram p, object[] inputs)
    {
        try
        {
            var probed = ((LambdaExpression)new ValueProbe().Visit(p.Function)).Compile(preferInterpretation: true);
            (ValueProbe.Closest, ValueProbe.NonFinite, ValueProbe.Largest) = (double.PositiveInfinity, false, 0);
            Call(probed, inputs);
            return new(ValueProbe.Closest, ValueProbe.NonFinite, ValueProbe.Largest);
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// Wraps each computed double and tensor (a call, an operator, a conversion) in <c>Value(..)</c>, which records a
    /// non-finite value and the largest finite magnitude, and the left side of each <c>c &gt; 0</c> (a conditional's or
    /// a <c>Np.Where</c>'s condition) in <c>Condition(..)</c>, which records the value closest to zero.
    /// </summary>
    sealed class ValueProbe : ExpressionVisitor
    {
        [ThreadStatic] internal static double Closest, Largest;
        [ThreadStatic] internal static bool NonFinite;

        public static double Value(double x)
        {
            if (!double.IsFinite(x)) NonFinite = true;
            else if (Math.Abs(x) > Largest) Largest = Math.Abs(x);
            return x;
        }

        public static Tensor Value(Tensor x) => Each(x, v => Value(v));

        public static double Condition(double c)
        {
            if (Math.Abs(c) < Math.Abs(Closest)) Closest = c;
            return c;
        }

        public static Tensor Condition(Tensor c) => Each(c, v => Condition(v));

        static Tensor Each(Tensor x, Action<double> record)
        {
            if (x.DType is DType.Float32 or DType.Float64)
                foreach (var v in x.ToDoubleArray()) record(v);
            return x;
        }

        static Expression Wrap(string probe, Expression e) =>
            e.Type == typeof(double) || e.Type == typeof(Tensor) ? Expression.Call(typeof(ValueProbe).GetMethod(probe, [e.Type])!, e) : e;

        protected override Expression VisitMethodCall(MethodCallExpression node) => Wrap(nameof(Value), base.VisitMethodCall(node));
        protected override Expression VisitUnary(UnaryExpression node) => Wrap(nameof(Value), base.VisitUnary(node));

        protected override Expression VisitBinary(BinaryExpression node)
        {
            if (node.NodeType == ExpressionType.GreaterThan && node.Right is ConstantExpression { Value: 0.0 or 0 }
                && (node.Left.Type == typeof(double) || node.Left.Type == typeof(Tensor)))
                return node.Update(Wrap(nameof(Condition), Visit(node.Left)), node.Conversion, Visit(node.Right));
            return Wrap(nameof(Value), base.VisitBinary(node));
        }
    }

    internal static string Failure(RandomProgram p, string what, object[] inputs, int inputSeed) =>
        $"{what}\n{p.ToCSharp()}\n{p.InputsCSharp(inputs)}\n// seed {p.Seed}{(p.Original ? $" (replay: ProgramGen.FromSeed({p.Seed}))" : " (shrunk)")}; inputs: program.InputsFrom({inputSeed}); {p.Size} nodes, depth {p.Depth}";
}

/// <summary>Reverse gradient of a random projection against float64 central differences along random directions.</summary>
sealed class GradientOracle : IProgramOracle
{
    public string Name => "Grad vs differences";
    public string Catches => "a wrong JVP or transpose rule, a wrong unbroadcast, a rule composed wrongly with another (a shared subexpression, a branch, a pytree leaf), a lost or duplicated cotangent";

    /// <summary>Central-difference step.</summary>
    public const double Step = 1e-5;
    /// <summary>Tolerance on the relative error.</summary>
    public const double Tolerance = 1e-6;

    /// <summary>The oracle's tolerance, or the loosest tolerance of the specs the program applies.</summary>
    static double ToleranceFor(RandomProgram p) => Math.Max(Tolerance, p.Specs().Select(s => s.Spec.Tolerance).DefaultIfEmpty(0).Max());
    const int Directions = 3, Draws = 3;

    public OracleResult Check(RandomProgram p)
    {
        object[] inputs = p.Inputs();
        int inputSeed = p.Seed;
        try
        {
            var weights = ProgramOracleKit.Weights(p, p.Seed);
            var plain = p.Function.Compile(preferInterpretation: true);
            var grad = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, weights)).Compile(preferInterpretation: true);
            double tolerance = ToleranceFor(p);
            string worst = "";
            for (int draw = 0; draw < Draws; draw++)
            {
                inputSeed = draw == 0 ? p.Seed : unchecked(p.Seed * 31 + draw);
                inputs = draw == 0 ? inputs : p.InputsFrom(inputSeed);
                var x = inputs[0];
                double F(double[] flat) { var a = (object[])inputs.Clone(); a[0] = p.Layout.Unflatten(flat); return ProgramOracleKit.Project(p, ProgramOracleKit.Call(plain, a), weights); }
                var g = p.Layout.Flatten(ProgramOracleKit.Call(grad, inputs)!);
                var v = p.Layout.Flatten(x);
                if (g.Length != v.Length)
                    return ProgramOracleKit.Fail(p, $"the gradient has {g.Length} components, the argument {v.Length}", inputs, inputSeed);
                var rng = new Random(inputSeed);
                bool smooth = true;
                for (int d = 0; d < Directions && v.Length > 0; d++)
                {
                    var u = ProgramOracleKit.Direction(v.Length, rng);
                    double sym = g.Select((gi, i) => gi * u[i]).Sum();
                    double num = (F(ProgramOracleKit.Axpy(v, Step, u)) - F(ProgramOracleKit.Axpy(v, -Step, u))) / (2 * Step);
                    double err = ProgramOracleKit.Error(sym, num);
                    if (err <= tolerance) continue;
                    // a second step tells a kink or a switching branch (the differences disagree) from a wrong gradient
                    double num2 = (F(ProgramOracleKit.Axpy(v, 2 * Step, u)) - F(ProgramOracleKit.Axpy(v, -2 * Step, u))) / (4 * Step);
                    if (ProgramOracleKit.Error(num, num2) > tolerance / 2 || double.IsNaN(num))
                    {
                        smooth = false;
                        worst = $"not smooth at input draw {draw}: differences {num:G10} (h) and {num2:G10} (2h)";
                        break;
                    }
                    return ProgramOracleKit.Fail(p,
                        $"<Grad, u> = {sym:G12} but central differences give {num:G12} (and {num2:G12} with 2h): error {err:G3} > {tolerance:G3} (direction {d})",
                        inputs, inputSeed);
                }
                if (smooth) return new(Verdict.Pass, $"{Directions} directions agree within {tolerance:G3} ({v.Length} components)");
            }
            return new(Verdict.Skipped, worst);
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, inputSeed);
        }
    }
}

/// <summary>A Hessian-vector product (reverse over reverse) against central differences of the gradient.</summary>
sealed class SecondOrderOracle : IProgramOracle
{
    public string Name => "Grad of Grad vs differences";
    public string Catches => "a JVP rule that is not itself differentiable (a rule that uses a non-primitive or forgets a term that only matters at second order), a transpose of a transpose, cotangent dtypes and shapes inside a nested derivative, symbolic zeros lost in a second pass";

    public const double Step = 1e-5;
    public const double Tolerance = 1e-6;

    /// <summary>The oracle's tolerance, or the loosest tolerance of the specs the program applies.</summary>
    static double ToleranceFor(RandomProgram p) => Math.Max(Tolerance, p.Specs().Select(s => s.Spec.Tolerance).DefaultIfEmpty(0).Max());
    const int Draws = 3;

    static readonly MethodInfo npSum = typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!;
    static readonly MethodInfo npLet = typeof(Np).GetMethod(nameof(Np.Let))!;

    /// <summary><c>(x[, y]) =&gt; &lt;G(x[, y]), v&gt;</c> with G the gradient expression and v constant leaves.</summary>
    static LambdaExpression DirectionalDerivative(RandomProgram p, LambdaExpression g, object v)
    {
        var ps = g.Parameters.Select(q => Expression.Parameter(q.Type, q.Name)).ToArray();
        var call = Expression.Invoke(Expression.Constant(g, g.GetType()), ps);
        var gp = Expression.Parameter(call.Type, "g");
        var leaves = p.Layout.Unpack(v);
        Expression? body = null;
        for (int i = 0; i < leaves.Length; i++)
        {
            var leaf = p.Layout.Kind == ArgKind.Tensor ? (Expression)gp : Expression.PropertyOrField(gp, p.Layout.Kind == ArgKind.Record ? "ABC"[i].ToString() : "Item" + (i + 1));
            Expression term = leaves[i] is double d ? Expression.Multiply(leaf, Expression.Constant(d))
                : Expression.Convert(Expression.Call(npSum, Expression.Multiply(leaf, Expression.Constant((Tensor)leaves[i])),
                    Expression.Constant(null, typeof(int?)), Expression.Constant(false)), typeof(double));
            body = body is null ? term : Expression.Add(body, term);
        }
        var let = Expression.Call(npLet.MakeGenericMethod(call.Type, typeof(double)), call,
            Expression.Lambda(typeof(Func<,>).MakeGenericType(call.Type, typeof(double)), body!, gp));
        var type = ps.Length == 1 ? typeof(Func<,>).MakeGenericType(ps[0].Type, typeof(double)) : typeof(Func<,,>).MakeGenericType(ps[0].Type, ps[1].Type, typeof(double));
        return Expression.Lambda(type, let, ps);
    }

    public OracleResult Check(RandomProgram p)
    {
        object[] inputs = p.Inputs();
        int inputSeed = p.Seed;
        try
        {
            var weights = ProgramOracleKit.Weights(p, p.Seed);
            var gradExpr = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, weights));
            var grad = gradExpr.Compile(preferInterpretation: true);
            int n = p.Layout.Flatten(inputs[0]).Length;
            var dir = ProgramOracleKit.Direction(n, new Random(p.Seed + 1));
            var vObj = p.Layout.Unflatten(dir);
            var hvp = ProgramOracleKit.Grad(DirectionalDerivative(p, gradExpr, vObj)).Compile(preferInterpretation: true);
            double tolerance = ToleranceFor(p);
            string worst = "";
            for (int draw = 0; draw < Draws; draw++)
            {
                inputSeed = draw == 0 ? p.Seed : unchecked(p.Seed * 31 + draw);
                inputs = draw == 0 ? inputs : p.InputsFrom(inputSeed);
                double[] G(double[] flat) { var a = (object[])inputs.Clone(); a[0] = p.Layout.Unflatten(flat); return p.Layout.Flatten(ProgramOracleKit.Call(grad, a)!); }
                var x = p.Layout.Flatten(inputs[0]);
                var hv = p.Layout.Flatten(ProgramOracleKit.Call(hvp, inputs)!);
                var gp = G(ProgramOracleKit.Axpy(x, Step, dir)); var gm = G(ProgramOracleKit.Axpy(x, -Step, dir));
                double[]? num2 = null;
                bool smooth = true;
                for (int i = 0; i < n; i++)
                {
                    double num = (gp[i] - gm[i]) / (2 * Step);
                    double err = ProgramOracleKit.Error(hv[i], num);
                    if (err <= tolerance) continue;
                    if (num2 is null)
                    {
                        var gp2 = G(ProgramOracleKit.Axpy(x, 2 * Step, dir)); var gm2 = G(ProgramOracleKit.Axpy(x, -2 * Step, dir));
                        num2 = gp2.Select((a, k) => (a - gm2[k]) / (4 * Step)).ToArray();
                    }
                    if (ProgramOracleKit.Error(num, num2[i]) > tolerance / 2 || double.IsNaN(num))
                    {
                        smooth = false;
                        worst = $"not smooth at input draw {draw}: component {i}, differences {num:G10} (h) and {num2[i]:G10} (2h)";
                        break;
                    }
                    return ProgramOracleKit.Fail(p,
                        $"(H v)[{i}] = {hv[i]:G12} but central differences of the gradient give {num:G12} (and {num2[i]:G12} with 2h): error {err:G3} > {tolerance:G3}; v = [{string.Join(", ", dir.Select(d => d.ToString("G6")))}]",
                        inputs, inputSeed);
                }
                if (smooth) return new(Verdict.Pass, $"H v agrees within {tolerance:G3} ({n} components)");
            }
            return new(Verdict.Skipped, worst);
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, inputSeed);
        }
    }
}

/// <summary>
/// The same program on float32 inputs: <c>Ad.Grad</c> must not throw, must give each leaf its input's dtype (float32) and
/// shape, and must agree with the float64 gradient up to float32 rounding, <c>max|g32 - g64| &lt;= 1e-2 max(1, max|g64|)</c>,
/// wherever the float32 program itself agrees with the float64 one to that accuracy (elsewhere, a condition flipped or
/// the program is ill-conditioned in float32, and the verdict is Skipped).
/// </summary>
sealed class Float32Oracle : IProgramOracle
{
    public string Name => "Grad float32 vs float64";
    public string Catches => "dtype bugs: a cotangent or a rule that promotes float32 to float64 (or the reverse), a weak scalar that changes a gradient's dtype, a mixed-dtype operation that throws in a derivative";

    /// <summary>
    /// Float32 rounding (6e-8) times intermediates of up to 1000 (the generator's bound) that cancel: a gradient can be
    /// off by 1e-3 of its scale without a bug (LogSoftmax of equal values, whose float32 softmax does not sum to 1, under
    /// a product of 225), so values are checked for gross errors only; per-primitive float32 accuracy is checked by the spec table.
    /// </summary>
    public const double Tolerance = 1e-2;

    static object ToFloat32(object leaf) => leaf is Tensor t ? t.AsType(DType.Float32) : leaf;

    static object[] Cast(RandomProgram p, object[] inputs)
    {
        var x = p.Layout.Pack(p.Layout.Unpack(inputs[0]).Select(ToFloat32).ToArray());
        return inputs.Length == 1 ? [x] : [x, ToFloat32(inputs[1])];
    }

    static object[] To64(RandomProgram p, object[] in32)
    {
        object Up(object leaf) => leaf is Tensor t ? t.AsType(DType.Float64) : leaf;
        var x = p.Layout.Pack(p.Layout.Unpack(in32[0]).Select(Up).ToArray());
        return in32.Length == 1 ? [x] : [x, Up(in32[1])];
    }

    /// <summary>The inputs moved by about two float32 ulps (relative 2^-22), so that their float32 rounding changes.</summary>
    static object[] Nudge(RandomProgram p, object[] inputs)
    {
        const double r = 1.0 / (1 << 22);
        object Move(object leaf) => leaf is Tensor t ? new Tensor(t.ToDoubleArray().Select(v => v * (1 + r)).ToArray(), t.Shape.ToArray()) : (double)leaf * (1 + r);
        var x = p.Layout.Pack(p.Layout.Unpack(inputs[0]).Select(Move).ToArray());
        return inputs.Length == 1 ? [x] : [x, Move(inputs[1])];
    }

    static double MaxAbs(double[] a) => a.Length == 0 ? 0 : a.Max(Math.Abs);

    public OracleResult Check(RandomProgram p)
    {
        if (p.Specs().FirstOrDefault(o => !o.Spec.DTypes.Contains(DType.Float32)) is { } only64)
            return new(Verdict.Skipped, $"{only64.Name} takes no float32 (its spec's DTypes)");
        var inputs = p.Inputs();
        try
        {
            var weights = ProgramOracleKit.Weights(p, p.Seed);
            var plain = p.Function.Compile(preferInterpretation: true);
            var grad = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, weights)).Compile(preferInterpretation: true);
            var in32 = Cast(p, inputs);
            var g32 = ProgramOracleKit.Call(grad, in32)!;
            var leaves32 = p.Layout.Unpack(g32);
            var inLeaves = p.Layout.Unpack(in32[0]);
            for (int i = 0; i < leaves32.Length; i++)
            {
                if (leaves32[i] is Tensor t && inLeaves[i] is Tensor a && (t.DType != a.DType || !t.Shape.SequenceEqual(a.Shape)))
                    return ProgramOracleKit.Fail(p, $"the gradient of leaf {i} is {t.Aval}, its input is {a.Aval}", in32, p.Seed);
            }
            double[] Outs(object[] args)
            {
                var o = ProgramOracleKit.Call(plain, args);
                object?[] os = p.Outputs.Count == 1 ? [o] : [o!.GetType().GetField("Item1")!.GetValue(o), o.GetType().GetField("Item2")!.GetValue(o)];
                return os.SelectMany(v => v is Tensor t ? t.AsType(DType.Float64).ToDoubleArray() : [(double)v!]).ToArray();
            }
            var y64 = Outs(To64(p, in32)); var y32 = Outs(in32);
            double ey = y64.Select((v, i) => Math.Abs(v - y32[i])).DefaultIfEmpty(0).Max();
            if (double.IsNaN(ey) || ey > Tolerance * Math.Max(1, MaxAbs(y64)))
                return new(Verdict.Skipped, $"the float32 program differs from the float64 one by {ey:G3} (a condition flipped, or float32 is too coarse here)");
            // the float64 gradient at the same (rounded) inputs
            var a64 = p.Layout.Flatten(ProgramOracleKit.Call(grad, To64(p, in32))!);
            var a32 = p.Layout.Flatten(g32);
            double eg = a64.Select((v, i) => Math.Abs(v - a32[i])).DefaultIfEmpty(0).Max();
            double scale = Tolerance * Math.Max(1, MaxAbs(a64));
            if (double.IsNaN(eg) || eg > scale)
            {
                // float32 rounding noise, not a bug, when a change of the inputs by about one float32 ulp moves the float32
                // gradient as much (large intermediates cancelling): no conclusion at this point
                var nudged = p.Layout.Flatten(ProgramOracleKit.Call(grad, Cast(p, Nudge(p, inputs)))!);
                double noise = a32.Select((v, i) => Math.Abs(v - nudged[i])).DefaultIfEmpty(0).Max();
                if (!double.IsNaN(eg) && noise > scale / 4)
                    return new(Verdict.Skipped, $"the float32 gradient is rounding noise here: it moves by {noise:G3} when the inputs move by one float32 ulp");
                return ProgramOracleKit.Fail(p,
                    $"the float32 gradient differs from the float64 one by {eg:G3} > {Tolerance:G3} max(1, {MaxAbs(a64):G3}) (outputs agree to {ey:G3}, one-ulp noise {noise:G3})", in32, p.Seed);
            }
            return new(Verdict.Pass, $"float32 gradient within {eg:G3} of float64");
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", Cast(p, inputs), p.Seed);
        }
    }
}

/// <summary>
/// <c>Ad.Jit</c> against plain <c>Compile()</c>, on the program and on its gradient: same shapes and dtypes, values within
/// <c>|a - b| &lt;= 1e-9 max(1, |a|, |b|)</c> (the jit's SIMD kernels may differ from scalar code in the last bits,
/// amplified by at most the program's bound of 1000).
/// </summary>
sealed class JitOracle : IProgramOracle
{
    public string Name => "Jit vs Compile";
    public string Catches => "jit bugs: shape specialisation, fused elementwise loops, scalar unrolling, buffer reuse (an output aliasing an intermediate), the blocked GEMM, broadcasting in generated code, conditionals and Np.Let in generated code";

    public const double Tolerance = 1e-9;

    static readonly MethodInfo[] jits = typeof(Ad).GetMethods().Where(m => m.Name == "Jit" && m.GetParameters().Length == 1).ToArray();

    internal static Delegate Jit(LambdaExpression f)
    {
        var types = f.Parameters.Select(p => p.Type).Append(f.ReturnType).ToArray();
        var m = jits.Single(g => g.GetGenericArguments().Length == types.Length).MakeGenericMethod(types);
        try { return (Delegate)m.Invoke(null, [f])!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    static void Flatten(object? v, List<double> values, List<string> types)
    {
        switch (v)
        {
            case Tensor t: types.Add(t.Aval.ToString()); values.AddRange(t.AsType(DType.Float64).ToDoubleArray()); break;
            case double d: types.Add("double"); values.Add(d); break;
            case null: types.Add("null"); break;
            default:
                var fields = v.GetType().GetFields();
                if (v is FuzzParams r) { Flatten(r.A, values, types); Flatten(r.B, values, types); Flatten(r.C, values, types); }
                else foreach (var f in fields.Where(f => f.Name.StartsWith("Item", StringComparison.Ordinal)).OrderBy(f => f.Name)) Flatten(f.GetValue(v), values, types);
                break;
        }
    }

    internal static string? Compare(string what, object? plain, object? jitted)
    {
        List<double> a = new(), b = new(); List<string> ta = new(), tb = new();
        Flatten(plain, a, ta); Flatten(jitted, b, tb);
        if (!ta.SequenceEqual(tb)) return $"{what}: Compile() gives {string.Join(", ", ta)} but Jit gives {string.Join(", ", tb)}";
        for (int i = 0; i < a.Count; i++)
        {
            double err = ProgramOracleKit.Error(a[i], b[i]);
            if (err > Tolerance) return $"{what}: component {i}: Compile() gives {a[i]:R}, Jit {b[i]:R} (error {err:G3} > {Tolerance:G3})";
        }
        return null;
    }

    public OracleResult Check(RandomProgram p)
    {
        var inputs = p.Inputs();
        try
        {
            var f = p.Function;
            var why = Compare("the program", ProgramOracleKit.Call(f.Compile(preferInterpretation: true), inputs), ProgramOracleKit.Call(Jit(f), inputs));
            if (why is null)
            {
                var g = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, ProgramOracleKit.Weights(p, p.Seed)));
                why = Compare("its gradient", ProgramOracleKit.Call(g.Compile(preferInterpretation: true), inputs), ProgramOracleKit.Call(Jit(g), inputs));
            }
            if (why is null) return new(Verdict.Pass, "Jit equals Compile() on the program and its gradient");
            // The jit may round differently by a few ulps. Where the program is discontinuous within rounding (a branch
            // condition that is zero up to rounding), that can legitimately take the other branch: if Compile() itself
            // changes its result under relative input perturbations of 1e-12, the input is such a point.
            var plain = f.Compile(preferInterpretation: true);
            var at = ProgramOracleKit.Call(plain, inputs);
            var v = p.Layout.Flatten(inputs[0]);
            var rng = new Random(p.Seed);
            for (int d = 0; d < 4; d++)
            {
                var moved = (object[])inputs.Clone();
                moved[0] = p.Layout.Unflatten(v.Select(x => x * (1 + 1e-12 * (rng.NextDouble() * 2 - 1))).ToArray());
                if (Compare("perturbed", at, ProgramOracleKit.Call(plain, moved)) is not null)
                    return new(Verdict.Skipped, $"discontinuous within rounding at this input ({why})");
            }
            return ProgramOracleKit.Fail(p, why, inputs, p.Seed);
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, p.Seed);
        }
    }
}

/// <summary>
/// Forward against reverse (the dot test): for the scalar projection s, <c>Jvp(s)(x, v).Tangent</c> must equal
/// <c>&lt;Grad(s)(x), v&gt;</c> for random directions v. No finite differences: both sides are exact up to rounding.
/// </summary>
sealed class DotTestOracle : IProgramOracle
{
    public string Name => "Jvp vs Grad (dot test)";
    public string Catches => "a JVP rule and a transpose rule that disagree (one of them wrong), symbolic zeros handled differently by the two modes, forward-mode kinds and shapes";

    static readonly MethodInfo[] jvps = typeof(Ad).GetMethods().Where(m => m.Name == nameof(Ad.Jvp)).ToArray();

    public OracleResult Check(RandomProgram p)
    {
        object[] inputs = p.Inputs();
        try
        {
            var weights = ProgramOracleKit.Weights(p, p.Seed);
            var proj = ProgramOracleKit.Projection(p, weights);
            var types = proj.Parameters.Select(q => q.Type).Append(proj.ReturnType).ToArray();
            var jvp = ((LambdaExpression)jvps.Single(m => m.GetGenericArguments().Length == types.Length).MakeGenericMethod(types).Invoke(null, [proj])!).Compile(preferInterpretation: true);
            var grad = ProgramOracleKit.Grad(proj).Compile(preferInterpretation: true);
            var g = p.Layout.Flatten(ProgramOracleKit.Call(grad, inputs)!);
            var rng = new Random(p.Seed);
            for (int d = 0; d < 3; d++)
            {
                var v = ProgramOracleKit.Direction(g.Length, rng);
                object[] args = inputs.Length == 1 ? [inputs[0], p.Layout.Unflatten(v)] : [inputs[0], inputs[1], p.Layout.Unflatten(v), Np.ZerosLike((Tensor)inputs[1])];
                var r = ProgramOracleKit.Call(jvp, args)!;
                double forward = (double)r.GetType().GetField("Item2")!.GetValue(r)!;
                double reverse = g.Select((gi, i) => gi * v[i]).Sum();
                double err = ProgramOracleKit.Error(forward, reverse);
                if (err > 1e-9)
                    return ProgramOracleKit.Fail(p, $"Jvp gives {forward:G15}, <Grad, v> gives {reverse:G15}: error {err:G3} (direction {d})", inputs, p.Seed);
            }
            return new(Verdict.Pass, $"3 directions agree ({g.Length} components)");
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, p.Seed);
        }
    }
}

/// <summary>
/// <c>Vmap</c> against a loop: the program vmapped over a batch of 3 input draws equals the plain program run on each
/// draw, stacked. The tensor leaves that no double depends on are batched on axis 0 (see
/// <see cref="RandomProgram.BatchableLeaves"/>); the other leaves (double leaves, and tensors that reach double code,
/// which a double cannot carry a batch of) are passed unbatched, the same in every draw. A program with no batchable
/// leaf is skipped.
/// </summary>
sealed class VmapOracle : IProgramOracle
{
    public string Name => "Vmap vs a loop";
    public string Catches => "a batching rule that mixes batch and core axes (an axis not shifted, a broadcast against the batch axis, a product that contracts the batch), a structural primitive of Vmap, a conditional's branches batched differently, unbatched leaves and doubles meeting batched ones";

    const int B = 3;

    public OracleResult Check(RandomProgram p)
    {
        if (Batch(p, B, i => unchecked(p.Seed * 13 + i)) is not var (draws, args, leafAxes))
            return new(Verdict.Skipped, "no tensor leaf can be batched: every one reaches double code");
        try
        {
            var f = p.Function;
            var plain = f.Compile(preferInterpretation: true);
            var vmapped = Vmapped(f, leafAxes);
            var result = ProgramOracleKit.Call(vmapped.Compile(preferInterpretation: true), args);
            var expected = draws.Select(d => ProgramOracleKit.Call(plain, d)).ToArray();
            for (int o = 0; o < p.Outputs.Count; o++)
            {
                if (p.Outputs[o].IsDouble)
                {
                    // a double output depends on no batched leaf: one double, the loop's value in every draw
                    var d = (double)Output(result, o, p.Outputs.Count)!;
                    var want = expected.Select(e => (double)Output(e, o, p.Outputs.Count)!).ToArray();
                    if (want.Any(w => ProgramOracleKit.Error(w, d) > 1e-10))
                        return ProgramOracleKit.Fail(p, $"output {o}: Vmap gives {d:R}, the loop gives {string.Join(", ", want.Select(w => w.ToString("R")))}", draws[0], p.Seed);
                    continue;
                }
                var got = ((Tensor)Output(result, o, p.Outputs.Count)!).AsType(DType.Float64);
                var wantT = Np.Stack(expected.Select(e => ((Tensor)Output(e, o, p.Outputs.Count)!).AsType(DType.Float64)).ToArray(), 0);
                if (!got.Shape.SequenceEqual(wantT.Shape) || !got.AllClose(wantT, 1e-10, 1e-10))
                    return ProgramOracleKit.Fail(p, $"output {o} (batched leaves {string.Join(", ", leafAxes.Keys)}): Vmap gives {got}\nthe loop gives {wantT}", draws[0], p.Seed);
            }
            return new(Verdict.Pass, $"batch of {B} over {string.Join(", ", leafAxes.Keys)} equals the loop");
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"batching {string.Join(", ", leafAxes.Keys)} threw {e.GetType().Name}: {e.Message}", draws[0], p.Seed);
        }
    }

    /// <summary>
    /// Per-example gradients: <c>Ad.Vmap</c> of the gradient of the program's projection against the gradient of each
    /// draw (loops included, whose derivatives are loops that Vmap batches); null when they agree, or when the gradient
    /// cannot be batched (a gradient leaf that is a double depending on the batch, which C# needs as one value).
    /// </summary>
    internal static string? Gradients(RandomProgram p, object[][] draws, object[] args, IReadOnlyDictionary<string, int?> leafAxes)
    {
        var grad = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, ProgramOracleKit.Weights(p, p.Seed)));
        object? batched;
        try { batched = ProgramOracleKit.Call(Vmapped(grad, leafAxes).Compile(preferInterpretation: true), args); }
        catch (VmapException) { return null; }
        var leaves = p.Layout.Unpack(batched!);
        var one = grad.Compile(preferInterpretation: true);
        for (int d = 0; d < draws.Length; d++)
        {
            var want = p.Layout.Unpack(ProgramOracleKit.Call(one, draws[d])!);
            for (int i = 0; i < want.Length; i++)
            {
                double[] w = want[i] is Tensor wt ? wt.AsType(DType.Float64).ToDoubleArray() : [(double)want[i]];
                double[] g = leaves[i] switch
                {
                    Tensor t when t.Rank > 0 && t.Shape[0] == draws.Length && (want[i] is double || t.Rank == ((Tensor)want[i]).Rank + 1) => Lax.Unstack(t, 0, d).AsType(DType.Float64).ToDoubleArray(),
                    Tensor t => t.AsType(DType.Float64).ToDoubleArray(),
                    var v => [(double)v],
                };
                if (g.Length != w.Length)
                    return $"the vmapped gradient of leaf {i} has {g.Length} components per example, the gradient {w.Length}";
                for (int k = 0; k < w.Length; k++)
                    if (ProgramOracleKit.Error(g[k], w[k]) > 1e-9)
                        return $"the vmapped gradient, leaf {i}, example {d}, component {k}: {g[k]:R}, the loop of gradients gives {w[k]:R}";
            }
        }
        return null;
    }

    /// <summary><c>Ad.Vmap</c> of <paramref name="f"/> with the given leaves batched on axis 0 and every other leaf unbatched.</summary>
    internal static LambdaExpression Vmapped(LambdaExpression f, IReadOnlyDictionary<string, int?> leafAxes) =>
        Ad.VmapCore(f, f.Type, f.Parameters.Select(_ => (int?)null).ToArray(), null, null, leafAxes);

    /// <summary>
    /// <paramref name="b"/> input draws that differ only in the batchable leaves (the others are draw 0's), those
    /// leaves stacked along a new axis 0 into the vmapped function's arguments, and the leaf axes to pass to Vmap; null
    /// when no leaf can be batched.
    /// </summary>
    internal static (object[][] Draws, object[] Args, IReadOnlyDictionary<string, int?> LeafAxes)? Batch(RandomProgram p, int b, Func<int, int> seed)
    {
        var batched = p.BatchableLeaves();
        if (batched.Count == 0) return null;
        var layout = p.Layout;
        var draws = Enumerable.Range(0, b).Select(i => p.InputsFrom(seed(i))).ToArray();
        object?[] Leaves(object[] d) => [.. layout.Unpack(d[0]), .. d.Skip(1)];
        var first = Leaves(draws[0]);
        var leaves = draws.Select(d => Leaves(d).Select((l, i) => batched.Contains(i) ? l : first[i]).ToArray()).ToArray();
        object[] Args(object?[] ls) => layout.HasFixed ? [layout.Pack(ls[..layout.XLeaves]!), ls[^1]!] : [layout.Pack(ls!)];
        draws = leaves.Select(Args).ToArray();
        var stacked = Enumerable.Range(0, first.Length).Select(i => batched.Contains(i) ? Np.Stack(leaves.Select(l => (Tensor)l[i]!).ToArray(), 0) : first[i]).ToArray();
        return (draws, Args(stacked), batched.ToDictionary(i => layout.LeafName(i), i => (int?)0));
    }

    internal static object? Output(object? r, int o, int count) => count == 1 ? r : r!.GetType().GetField(o == 0 ? "Item1" : "Item2")!.GetValue(r);
}

/// <summary>
/// Per-example gradients: <c>Ad.Vmap(Ad.Grad(projection))</c> over a batch of 3 input draws (the leaves of
/// <see cref="VmapOracle"/> batched) against <c>Ad.Grad(projection)</c> run on each draw, within <c>1e-9 max(1, |a|, |b|)</c>
/// per component. Loops included: their derivatives are loops, which Vmap batches into one loop. A program whose gradient
/// cannot be batched (a gradient leaf that is a double depending on the batch) or that has no batchable leaf is Skipped.
/// </summary>
sealed class VmapGradOracle : IProgramOracle
{
    public string Name => "Vmap of Grad vs a loop";
    public string Catches => "batching rules of the derivative primitives (transposes, residual loops, GradSeed), a cotangent batched differently from its primal, C# doubles of the backward pass carried per example";

    const int B = 3;

    public OracleResult Check(RandomProgram p)
    {
        if (VmapOracle.Batch(p, B, i => unchecked(p.Seed * 13 + i)) is not var (draws, args, leafAxes))
            return new(Verdict.Skipped, "no tensor leaf can be batched: every one reaches double code");
        try
        {
            return VmapOracle.Gradients(p, draws, args, leafAxes) is { } why
                ? ProgramOracleKit.Fail(p, why, draws[0], p.Seed)
                : new(Verdict.Pass, $"the vmapped gradient over {string.Join(", ", leafAxes.Keys)} equals the loop of gradients");
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"the vmapped gradient threw {e.GetType().Name}: {e.Message}", draws[0], p.Seed);
        }
    }
}

/// <summary>
/// The jit of batched code: <c>Ad.Jit(Ad.Vmap(f))</c> and <c>Ad.Jit(Ad.Vmap(Ad.Grad(projection)))</c> against their
/// <c>Compile()</c>, on a batch of 10 (float64 vector lanes of 4: two whole vectors and a padded tail). Where the
/// unbatched jit already differs from <c>Compile()</c> within rounding (a discontinuity), the case is skipped.
/// </summary>
sealed class JitVmapOracle : IProgramOracle
{
    public string Name => "Jit of Vmap vs Compile";
    public string Catches => "the jit's batch loop (per-example code over the batch, in vector lanes): a wrong example offset, a shared operand read per example, the padded tail, a value with a size-1 batch axis, an op without a vector form";

    const int B = 10;

    public OracleResult Check(RandomProgram p)
    {
        if (VmapOracle.Batch(p, B, i => unchecked(p.Seed * 17 + i)) is not var (draws, args, leafAxes))
            return new(Verdict.Skipped, "no tensor leaf can be batched: every one reaches double code");
        try
        {
            var grad = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, ProgramOracleKit.Weights(p, p.Seed)));
            int checkedCount = 0;
            foreach (var (what, f) in new[] { ("the vmapped program", p.Function), ("its vmapped gradient", grad) })
            {
                LambdaExpression vm;
                object? want;
                try
                {
                    vm = VmapOracle.Vmapped(f, leafAxes);
                    want = ProgramOracleKit.Call(vm.Compile(preferInterpretation: true), args);
                }
                catch (VmapException) { continue; }
                var got = ProgramOracleKit.Call(JitOracle.Jit(vm), args);
                var why = JitOracle.Compare(what, want, got);
                checkedCount++;
                if (why is null) continue;
                if (Oracles.Jit.Check(p).Verdict != Verdict.Pass)
                    return new(Verdict.Skipped, "the unbatched jit already differs from Compile() within rounding here");
                return ProgramOracleKit.Fail(p, why, draws[0], p.Seed);
            }
            return checkedCount == 0 ? new(Verdict.Skipped, "not batchable") : new(Verdict.Pass, $"Jit equals Compile() on {checkedCount} vmapped function(s), batch {B}");
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", draws[0], p.Seed);
        }
    }
}
