using System.Collections.Concurrent;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using FsCheck.Fluent;

namespace Functional.AD.Testing.Programs;

/// <summary>
/// A spec of the table (<see cref="Specs.All"/>) as an operation of random programs: its family, the domain of each
/// operand, its double form, and a bound of its output. Everything is read from the spec line (inferred where the line
/// does not say, see <see cref="PrimitiveSpec.Family"/>), so a primitive added with one spec line is fuzzed without
/// touching the generator.
/// </summary>
/// <example><code>
/// foreach (var op in SpecOp.Of(SpecFamily.Elementwise))
///     Console.WriteLine(op.Name);                 // Neg, Exp, Log, Tanh, ..., Log1p, Clip
/// </code></example>
public sealed class SpecOp
{
    /// <summary>The spec.</summary>
    public PrimitiveSpec Spec { get; }
    /// <summary>How the generator uses it.</summary>
    public SpecFamily Family { get; }
    /// <summary>The domain of each operand.</summary>
    public IReadOnlyList<Domain> Domains { get; }
    /// <summary>The function on doubles, or null when it has none (tensor code only).</summary>
    public LambdaExpression? DoubleFunction { get; }
    /// <summary>
    /// True when the body is one C# operator on its two parameters (<c>a + b</c>): it then also takes a tensor and a
    /// double (<c>x * d</c>).
    /// </summary>
    public bool IsOperator { get; }
    /// <summary>
    /// True for <c>+ - *</c>: an operand may be <c>(Tensor)d</c>, a weak scalar, beside a float64 tensor (anywhere else
    /// a weak scalar would compute in float32, which float64 differences cannot check).
    /// </summary>
    public bool TakesWeakScalar { get; }
    /// <summary>Number of tensor operands.</summary>
    public int Arity => Spec.Arity;
    /// <summary>The spec's name.</summary>
    public string Name => Spec.Name;
    /// <summary>A <see cref="SpecFamily.FixedShapes"/> spec's operand shapes (those of its own inputs); null for the other families.</summary>
    public IReadOnlyList<int[]>? InputShapes { get; private init; }
    /// <summary>A <see cref="SpecFamily.FixedShapes"/> spec's output shape (its function run once on its own inputs); null for the other families.</summary>
    public int[]? OutputShape { get; private init; }

    readonly Delegate compiled;
    /// <summary>A reduction spec's method over every axis: <c>M(x, null, false)</c>.</summary>
    readonly Lazy<Delegate> reduceAll;
    readonly ConcurrentDictionary<(int, int, int, int), double> bounds = new();

    SpecOp(PrimitiveSpec spec, SpecFamily family, Domain[] domains, LambdaExpression? dbl, Delegate compiled)
    {
        Spec = spec; Family = family; Domains = domains; DoubleFunction = dbl; this.compiled = compiled;
        reduceAll = new(() =>
        {
            var x = Expression.Parameter(typeof(Tensor), "x");
            return Expression.Lambda(Expression.Call(Method, x, Expression.Constant(null, typeof(int?)), Expression.Constant(false)), x).Compile();
        });
        var body = spec.Function.Body;
        IsOperator = spec.Arity == 2 && body is BinaryExpression b && b.Left == spec.Function.Parameters[0] && b.Right == spec.Function.Parameters[1];
        TakesWeakScalar = IsOperator && body.NodeType is ExpressionType.Add or ExpressionType.Subtract or ExpressionType.Multiply;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Family}{(InputShapes is null ? "" : $" [{string.Join("], [", InputShapes.Select(s => string.Join(", ", s)))}] to [{string.Join(", ", OutputShape!)}]")}, {string.Join(", ", Domains)}{(DoubleFunction is null ? "" : ", double form")})";

    static readonly Lazy<IReadOnlyList<SpecOp>> all = new(() =>
    {
        var ops = Specs.All.Select(From).OfType<SpecOp>().ToList();
        // a reduction or along-axis spec stands for its method: the generator picks the axis itself, so the table's
        // other lines for the same method (other axes, keepdims) add nothing
        return ops.Where(o => o.Family is SpecFamily.Elementwise or SpecFamily.FixedShapes || ops.First(x => x.Family == o.Family && x.Method == o.Method) == o).ToArray();
    });

    /// <summary>The specs the generator uses, in table order (one per method for reductions and along-axis operations).</summary>
    public static IReadOnlyList<SpecOp> All => all.Value;

    /// <summary>The specs of one family.</summary>
    public static IReadOnlyList<SpecOp> Of(SpecFamily family) => All.Where(o => o.Family == family).ToArray();

    /// <summary>The spec as an operation of random programs, or null when the generator does not use it.</summary>
    public static SpecOp? From(PrimitiveSpec spec)
    {
        if (!spec.Fuzzed || !spec.FiniteDifferences || spec.ReverseOnly || !spec.SecondOrder || !spec.DTypes.Contains(DType.Float64)) return null;
        var f = spec.Function;
        if (f.ReturnType != typeof(Tensor) || f.Parameters.Any(p => p.Type != typeof(Tensor))) return null;
        Delegate compiled;
        try { compiled = f.Compile(); } catch (Exception) { return null; }
        var pools = Pools(spec);
        if (pools is null) return null;
        var family = spec.Family ?? Infer(spec, compiled, pools);
        // a spec of none of the shape-generic families is applied to operands of exactly its own inputs' shapes
        if (family == SpecFamily.None) family = SpecFamily.FixedShapes;
        if (family == SpecFamily.FixedShapes) return Fixed(spec, compiled, pools);
        var domains = spec.Domains ?? (family == SpecFamily.Elementwise ? Enumerable.Range(0, spec.Arity).Select(i => InferDomain(compiled, pools, i)).ToArray() : [Domain.Any]);
        if (domains.Length != spec.Arity) throw new ArgumentException($"spec {spec.Name}: {domains.Length} domains for {spec.Arity} operands");
        var dbl = spec.DoubleFunction ?? (family == SpecFamily.Elementwise ? DoubleForm(f) : null);
        return new SpecOp(spec, family, domains, dbl, compiled);
    }

    /// <summary>
    /// A spec as a <see cref="SpecFamily.FixedShapes"/> operation: its operand shapes are those of its first input
    /// draw (fixed seed) and its output shape is its function's on them; null when the output is not a finite float64
    /// tensor (indices, booleans: not differentiable values) or when a float32 draw does not give float32 (the float32
    /// twin of a program would change dtype).
    /// </summary>
    static SpecOp? Fixed(PrimitiveSpec spec, Delegate compiled, double[][] pools)
    {
        Tensor[] sample;
        Tensor output;
        try
        {
            sample = spec.Inputs(DType.Float64).Sample(1, new FsCheck.Rnd(12345), 12)[0];
            output = Call(compiled, sample);
            if (output.DType != DType.Float64 || !output.ToDoubleArray().All(double.IsFinite) || sample.Any(x => x.DType != DType.Float64)) return null;
            if (spec.DTypes.Contains(DType.Float32) && (Call(compiled, sample.Select(x => x.AsType(DType.Float32)).ToArray()).DType != DType.Float32 || HasFixedAval(spec.Function))) return null;
        }
        catch (Exception) { return null; }
        var domains = spec.Domains ?? Enumerable.Range(0, spec.Arity).Select(i => FixedDomain(compiled, sample, pools[i], i)).ToArray();
        if (domains.Length != spec.Arity) throw new ArgumentException($"spec {spec.Name}: {domains.Length} domains for {spec.Arity} operands");
        return new SpecOp(spec, SpecFamily.FixedShapes, domains, spec.DoubleFunction, compiled)
        {
            InputShapes = sample.Select(x => x.Shape.ToArray()).ToArray(),
            OutputShape = output.Shape.ToArray(),
        };
    }

    /// <summary>
    /// True when the function passes an aval that does not come from its operands (<c>Lax.ScatterAdd(g, idx, 0, A(5, 3))</c>):
    /// a float64 aval, under which the gradient of a float32 operand comes out float64.
    /// </summary>
    static bool HasFixedAval(LambdaExpression f)
    {
        bool found = false;
        new AvalFinder(() => found = true).Visit(f.Body);
        return found;
    }

    sealed class AvalFinder(Action found) : ExpressionVisitor
    {
        public override Expression? Visit(Expression? node)
        {
            if (node is not null && node.Type == typeof(Aval) && !Uses(node)) { found(); return node; }
            return base.Visit(node);
        }

        static bool Uses(Expression e)
        {
            bool any = false;
            new ParameterFinder(() => any = true).Visit(e);
            return any;
        }
    }

    sealed class ParameterFinder(Action found) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) { found(); return node; }
    }

    /// <summary>
    /// The domain of a fixed-shape operand, read from the spec's own inputs for it (positive, at least 0.2 from zero, or
    /// inside (-0.9, 0.9) on every draw: the line asks for that domain), else <see cref="Domain.Any"/> when the function
    /// is finite with the operand set to values over [-2.5, 2.5], else <see cref="Domain.AwayFromZero"/>.
    /// </summary>
    static Domain FixedDomain(Delegate compiled, Tensor[] sample, double[] pool, int i)
    {
        if (pool.Length >= 8 && pool.All(v => v > 0)) return Domain.Positive;
        if (pool.Length >= 20 && pool.All(v => Math.Abs(v) >= 0.2)) return Domain.AwayFromZero;
        if (pool.Length >= 20 && pool.All(v => Math.Abs(v) <= 0.9)) return Domain.Unit;
        try
        {
            var args = sample.Select((x, k) => k == i ? Tensor(Grid, x.Shape.ToArray(), 3) : x).ToArray();
            if (Call(compiled, args).ToDoubleArray().All(double.IsFinite)) return Domain.Any;
        }
        catch (Exception) { }
        return Domain.AwayFromZero;
    }

    // ------------------------------------------------------------------ inference

    /// <summary>Values of each operand drawn from the spec's own inputs (fixed seed): points inside its domain.</summary>
    static double[][]? Pools(PrimitiveSpec spec)
    {
        try
        {
            var samples = spec.Inputs(DType.Float64).Sample(10, new FsCheck.Rnd(12345), 12);
            var pools = Enumerable.Range(0, spec.Arity).Select(i => samples.SelectMany(s => s[i].ToDoubleArray()).Distinct().ToArray()).ToArray();
            return pools.All(p => p.Length > 0) ? pools : null;
        }
        catch (Exception) { return null; }
    }

    static Tensor Call(Delegate d, Tensor[] args)
    {
        try { return (Tensor)d.DynamicInvoke(args)!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    static SpecFamily Infer(PrimitiveSpec spec, Delegate compiled, double[][] pools)
    {
        var f = spec.Function;
        if (f.Body is MethodCallExpression m && m.Arguments.Count > 0 && m.Arguments[0] == f.Parameters[0] && f.Parameters.Count == 1
            && m.Arguments.Skip(1).All(a => a is ConstantExpression or UnaryExpression { NodeType: ExpressionType.Convert, Operand: ConstantExpression }))
        {
            var ps = m.Method.GetParameters().Select(p => p.ParameterType).ToArray();
            if (ps.SequenceEqual([typeof(Tensor), typeof(int?), typeof(bool)])) return SpecFamily.Reduction;
            if (ps.SequenceEqual([typeof(Tensor), typeof(int)]))
            {
                try { return Call(compiled, [Tensor(pools[0], [2, 3])]) is { DType: DType.Float64 } y && y.Shape.SequenceEqual([2, 3]) ? SpecFamily.AlongAxis : SpecFamily.None; }
                catch (Exception) { return SpecFamily.None; }
            }
        }
        return IsElementwise(spec, compiled, pools) ? SpecFamily.Elementwise : SpecFamily.None;
    }

    /// <summary>A float64 rank-0 tensor (not a weak scalar).</summary>
    static Tensor Scalar(double v) => new(new[] { v }, []);

    static Tensor Tensor(double[] pool, int[] shape, int offset = 0)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(i => pool[(i + offset) % pool.Length]).ToArray(), shape);
    }

    /// <summary>Each element of the output depends on the same element of each operand only, and operands broadcast.</summary>
    static bool IsElementwise(PrimitiveSpec spec, Delegate compiled, double[][] pools)
    {
        int n = spec.Arity;
        try
        {
            var vec = Enumerable.Range(0, n).Select(i => Tensor(pools[i], [5], i)).ToArray();
            var whole = Call(compiled, vec);
            if (!whole.Shape.SequenceEqual([5]) || whole.DType != DType.Float64) return false;
            var w = whole.ToDoubleArray();
            for (int k = 0; k < 5; k++)
            {
                var one = Call(compiled, vec.Select(v => Scalar(v.ToDoubleArray()[k])).ToArray());
                if (one.Rank != 0 || ProgramOracleKit.Error(one.ToDoubleArray()[0], w[k]) > 1e-12) return false;
            }
            // broadcasting: the first operand [2, 3], the others [3] (or [2, 1] for the last)
            var shapes = Enumerable.Range(0, n).Select(i => i == 0 ? new[] { 2, 3 } : i == n - 1 ? new[] { 2, 1 } : new[] { 3 }).ToArray();
            if (n > 1 && !Call(compiled, shapes.Select((s, i) => Tensor(pools[i], s, i)).ToArray()).Shape.SequenceEqual([2, 3])) return false;
            return Call(compiled, Enumerable.Range(0, n).Select(i => Tensor(pools[i], [2, 3], i)).ToArray()).Shape.SequenceEqual([2, 3]);
        }
        catch (Exception) { return false; }
    }

    static readonly double[] Grid = Enumerable.Range(0, 21).Select(i => -2.5 + 0.25 * i).ToArray();

    static Domain InferDomain(Delegate compiled, double[][] pools, int i)
    {
        try
        {
            var args = pools.Select((p, k) => k == i ? new Tensor(Grid) : Scalar(p[0])).ToArray();
            if (Call(compiled, args).ToDoubleArray().All(double.IsFinite)) return Domain.Any;
        }
        catch (Exception) { }
        var pool = pools[i];
        if (pool.All(v => v > 0)) return Domain.Positive;
        if (pool.All(v => Math.Abs(v) < 1)) return Domain.Unit;
        return Domain.AwayFromZero;
    }

    /// <summary>The function on doubles: the tensor function with every primitive call replaced by its scalar method.</summary>
    static LambdaExpression? DoubleForm(LambdaExpression f)
    {
        var ps = f.Parameters.Select(p => Expression.Parameter(typeof(double), p.Name)).ToArray();
        try
        {
            var body = Splice(f, ps);
            return body.Type == typeof(double) ? Expression.Lambda(body, ps) : null;
        }
        catch (Exception) { return null; }
    }

    /// <summary>
    /// The body of <paramref name="f"/> with its parameters replaced by <paramref name="args"/> (expression-tree
    /// parameter substitution). Nodes whose operand types change are rebuilt: operators resolve again (a Tensor and a
    /// double take <c>Tensor.op_Multiply(Tensor, double)</c>, two doubles the built-in one), and a primitive's call on
    /// doubles becomes its scalar method from the primitive table.
    /// </summary>
    public static Expression Splice(LambdaExpression f, IReadOnlyList<Expression> args) =>
        new Rebinder(f.Parameters.Select((p, i) => (p, args[i])).ToDictionary(x => x.p, x => x.Item2)).Visit(f.Body)!;

    sealed class Rebinder(Dictionary<ParameterExpression, Expression> map) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => map.TryGetValue(node, out var e) ? e : node;

        protected override Expression VisitBinary(BinaryExpression node)
        {
            var l = Visit(node.Left)!;
            var r = Visit(node.Right)!;
            if (l == node.Left && r == node.Right) return node;
            if (l.Type == typeof(int) && r.Type == typeof(double)) l = Expression.Convert(l, typeof(double));
            if (r.Type == typeof(int) && l.Type == typeof(double)) r = Expression.Convert(r, typeof(double));
            return Expression.MakeBinary(node.NodeType, l, r);
        }

        protected override Expression VisitUnary(UnaryExpression node)
        {
            var o = Visit(node.Operand)!;
            if (o == node.Operand) return node;
            return node.NodeType switch
            {
                ExpressionType.Negate => Expression.Negate(o),
                ExpressionType.Convert => o.Type == node.Type ? o : Expression.Convert(o, node.Type),
                _ => throw new NotSupportedException(node.NodeType.ToString()),
            };
        }

        protected override Expression VisitMethodCall(MethodCallExpression node)
        {
            var obj = node.Object is null ? null : Visit(node.Object)!;
            var args = node.Arguments.Select(a => Visit(a)!).ToArray();
            if (obj == node.Object && args.SequenceEqual(node.Arguments)) return node;
            var ps = node.Method.GetParameters();
            if (args.Select((a, i) => ps[i].ParameterType.IsAssignableFrom(a.Type)).All(x => x)) return Expression.Call(obj, node.Method, args);
            if (args.All(a => a.Type == typeof(double)) && Prims.ForMethod(node.Method)?.DoubleMethod is { } d && d.GetParameters().Length == args.Length)
                return Expression.Call(d, args);
            throw new NotSupportedException($"{node.Method.Name} has no form for operands {string.Join(", ", args.Select(a => a.Type.Name))}");
        }
    }

    // ------------------------------------------------------------------ bounds

    /// <summary>Rounds a bound up to the ladder 2^(k/4), so that bounds are measured once per rung.</summary>
    static int Rung(double b) => b <= 1e-3 ? -40 : (int)Math.Ceiling(4 * Math.Log2(b) - 1e-9);
    static double FromRung(int k) => Math.Pow(2, k / 4.0);

    /// <summary>
    /// A bound of |output| for an elementwise operation given each operand's range (<c>[1, b]</c> for an operand put
    /// into a positive domain, <c>[-0.9, 0.9]</c> for Unit, <c>[-b, b]</c> otherwise); infinite where the function is
    /// not finite there.
    /// </summary>
    public double ElementwiseBound(IReadOnlyList<double> operandBounds)
    {
        if (Spec.OutputBound is { } given) return given(operandBounds.ToArray());
        var rungs = operandBounds.Select(Rung).Concat(Enumerable.Repeat(0, 3)).ToArray();
        return bounds.GetOrAdd((rungs[0], rungs[1], rungs[2], -1), _ =>
        {
            int n = Arity, points = n switch { 1 => 201, 2 => 41, _ => 13 };
            var args = new Tensor[n];
            for (int i = 0; i < n; i++)
            {
                double hi = FromRung(rungs[i]);
                var (lo, top) = Domains[i] switch { Domain.Positive or Domain.AwayFromZero => (1.0, Math.Max(1, hi)), Domain.Unit => (-0.9, 0.9), _ => (-hi, hi) };
                var values = Enumerable.Range(0, points).Select(k => lo + (top - lo) * k / (points - 1)).ToArray();
                var shape = Enumerable.Repeat(1, n).ToArray();
                shape[i] = points;
                args[i] = new Tensor(values, shape);
            }
            try
            {
                var v = Call(compiled, args).ToDoubleArray();
                return v.All(double.IsFinite) ? 1.05 * v.Max(Math.Abs) + 1e-12 : double.PositiveInfinity;
            }
            catch (Exception) { return double.PositiveInfinity; }
        });
    }

    /// <summary>A bound of |output| for a reduction or an along-axis operation over <paramref name="count"/> elements of |value| at most <paramref name="b"/>.</summary>
    public double ReductionBound(double b, int count)
    {
        if (Spec.OutputBound is { } given) return given([b, count]);
        int rung = Rung(b);
        return bounds.GetOrAdd((rung, count, 0, 0), _ =>
        {
            double hi = FromRung(rung);
            var rng = new Random(count * 31 + rung);
            var probes = new List<double[]>
            {
                Enumerable.Repeat(hi, count).ToArray(),
                Enumerable.Repeat(-hi, count).ToArray(),
                Enumerable.Range(0, count).Select(i => i == 0 ? hi : -hi).ToArray(),
                Enumerable.Range(0, count).Select(i => i == 0 ? -hi : hi).ToArray(),
            };
            for (int k = 0; k < 4; k++) probes.Add(Enumerable.Range(0, count).Select(_ => (rng.NextDouble() * 2 - 1) * hi).ToArray());
            double max = 0;
            try
            {
                foreach (var p in probes)
                {
                    // the method over every axis (the spec line's own axis may not exist on a vector)
                    var v = Call(Family == SpecFamily.Reduction ? reduceAll.Value : compiled, [new Tensor(p)]).ToDoubleArray();
                    if (!v.All(double.IsFinite)) return double.PositiveInfinity;
                    max = Math.Max(max, v.Max(Math.Abs));
                }
            }
            catch (Exception) { return double.PositiveInfinity; }
            return 1.05 * max + 1e-12;
        });
    }

    /// <summary>
    /// A bound of |output| for a fixed-shape operation given a bound of each operand's |value|: the largest |output|
    /// over operands all at the bound, all at minus it, alternating in sign, mixed between operands, and random, plus 5%
    /// (each operand inside its domain's range, as <see cref="ElementwiseBound"/>).
    /// </summary>
    public double FixedBound(IReadOnlyList<double> operandBounds)
    {
        if (Spec.OutputBound is { } given) return given(operandBounds.ToArray());
        var rungs = operandBounds.Select(Rung).Concat(Enumerable.Repeat(0, 3)).ToArray();
        return bounds.GetOrAdd((rungs[0], rungs[1], rungs[2], -2), _ =>
        {
            int n = Arity;
            var rng = new Random(rungs[0] * 7919 + rungs[1] * 31 + rungs[2]);
            // a pattern in [-1, 1] per element, mapped into each operand's range
            Tensor Operand(int i, Func<int, double> pattern)
            {
                double hi = FromRung(rungs[i]);
                var shape = InputShapes![i];
                int size = shape.Aggregate(1, (a, b) => a * b);
                var values = Enumerable.Range(0, size).Select(k =>
                {
                    double u = pattern(k);
                    return Domains[i] switch
                    {
                        Domain.Positive or Domain.AwayFromZero => 1 + (Math.Max(1, hi) - 1) * Math.Abs(u),
                        Domain.Unit => 0.9 * u,
                        _ => hi * u,
                    };
                }).ToArray();
                return new Tensor(values, shape);
            }
            var patterns = new List<Func<int, int, double>>
            {
                (_, _) => 1, (_, _) => -1, (_, k) => k % 2 == 0 ? 1 : -1, (_, k) => k % 2 == 0 ? -1 : 1,
                (i, _) => i == 0 ? 1 : -1, (i, _) => i == 0 ? -1 : 1, (i, k) => (i + k) % 2 == 0 ? 1 : -1,
            };
            for (int r = 0; r < 6; r++)
            {
                var draws = Enumerable.Range(0, 64).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
                patterns.Add((i, k) => draws[(k * 7 + i * 13) % draws.Length]);
            }
            double max = 0;
            try
            {
                foreach (var p in patterns)
                {
                    var v = Call(compiled, Enumerable.Range(0, n).Select(i => Operand(i, k => p(i, k))).ToArray()).ToDoubleArray();
                    if (!v.All(double.IsFinite)) return double.PositiveInfinity;
                    if (v.Length > 0) max = Math.Max(max, v.Max(Math.Abs));
                }
            }
            catch (Exception) { return double.PositiveInfinity; }
            return 1.05 * max + 1e-12;
        });
    }

    // ------------------------------------------------------------------ building and printing

    /// <summary>The method of a reduction or along-axis spec (<c>Np.Sum</c>, <c>Np.Softmax</c>).</summary>
    internal MethodInfo Method => ((MethodCallExpression)Spec.Function.Body).Method;

    /// <summary>The operation on built operands: the spec's body (or its double form) with its parameters replaced.</summary>
    internal Expression Build(Expression[] args, object? attr, bool onDoubles, bool[] atomic) => Family switch
    {
        SpecFamily.Reduction => Expression.Call(Method, args[0], Expression.Constant(((Reduction)attr!).Axis, typeof(int?)), Expression.Constant(((Reduction)attr!).KeepDims)),
        SpecFamily.AlongAxis => Expression.Call(Method, args[0], Expression.Constant((int)attr!)),
        _ => BuildShared(onDoubles ? DoubleFunction! : Spec.Function, args, atomic),
    };

    /// <summary>How many times each parameter occurs in the body.</summary>
    static int[] Uses(LambdaExpression f)
    {
        var counts = new int[f.Parameters.Count];
        new Counter(f.Parameters, counts).Visit(f.Body);
        return counts;
    }

    sealed class Counter(IReadOnlyList<ParameterExpression> ps, int[] counts) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node)
        {
            int i = Enumerable.Range(0, ps.Count).FirstOrDefault(k => ps[k] == node, -1);
            if (i >= 0) counts[i]++;
            return node;
        }
    }

    static readonly MethodInfo NpLet = typeof(Np).GetMethod(nameof(Np.Let))!;

    /// <summary>
    /// The body with its parameters replaced; an operand that the body uses more than once and that is not a leaf is
    /// bound once with <c>Np.Let</c> (so that nested operations do not copy their operands).
    /// </summary>
    static Expression BuildShared(LambdaExpression f, Expression[] args, bool[] atomic)
    {
        var uses = Uses(f);
        var vars = args.Select((a, i) => uses[i] > 1 && !atomic[i] ? Expression.Parameter(a.Type, "s" + i) : null).ToArray();
        var body = Splice(f, args.Select((a, i) => vars[i] ?? a).ToArray());
        for (int i = args.Length - 1; i >= 0; i--)
            if (vars[i] is { } v)
                body = Expression.Call(NpLet.MakeGenericMethod(v.Type, body.Type), args[i], Expression.Lambda(typeof(Func<,>).MakeGenericType(v.Type, body.Type), body, v));
        return body;
    }

    /// <summary>The operation as C#, its operands already printed.</summary>
    internal string Show(string[] args, object? attr, bool onDoubles, bool[] atomic, Func<string> fresh)
    {
        switch (Family)
        {
            case SpecFamily.Reduction:
                var r = (Reduction)attr!;
                return $"{Method.DeclaringType!.Name}.{Method.Name}({args[0]}, {(r.Axis is int ax ? ax.ToString(CultureInfo.InvariantCulture) : "null")}, {(r.KeepDims ? "true" : "false")})";
            case SpecFamily.AlongAxis:
                return $"{Method.DeclaringType!.Name}.{Method.Name}({args[0]}, {(int)attr!})";
        }
        var f = onDoubles ? DoubleFunction! : Spec.Function;
        var uses = Uses(f);
        var vars = args.Select((a, i) => uses[i] > 1 && !atomic[i] ? fresh() : null).ToArray();
        var names = f.Parameters.Select((p, i) => (p, vars[i] ?? args[i])).ToDictionary(x => x.p, x => x.Item2);
        var text = CSharp(f.Body, names, top: true);
        for (int i = args.Length - 1; i >= 0; i--)
            if (vars[i] is { } v) text = $"Np.Let({args[i]}, {v} => {text})";
        return text;
    }

    static string Atom(string s)
    {
        if (!s.Contains(' ') || s.StartsWith('(') && s.EndsWith(')') && Balanced(s[1..^1])) return s;
        // a call Name.Name(...) whose parentheses close at the end
        int open = s.IndexOf('(');
        if (open > 0 && s.EndsWith(')') && s[..open].All(c => char.IsLetterOrDigit(c) || c is '.' or '_') && Balanced(s[(open + 1)..^1])) return s;
        return "(" + s + ")";
    }

    static bool Balanced(string s)
    {
        int depth = 0;
        foreach (var c in s) { if (c == '(') depth++; else if (c == ')' && --depth < 0) return false; }
        return depth == 0;
    }

    static string CSharp(Expression e, Dictionary<ParameterExpression, string> names, bool top = false)
    {
        string S(Expression x) => CSharp(x, names);
        switch (e)
        {
            case ParameterExpression p: return names.TryGetValue(p, out var n) ? top ? n : Atom(n) : p.Name ?? "p";
            case ConstantExpression c: return c.Value switch
            {
                double d => Term.Num(d),
                int i => i.ToString(CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                null => "null",
                int[] a => Term.IntArray(a),
                DType t => "DType." + t,
                _ => Printer.Literal(c.Value),
            };
            case BinaryExpression b:
                var op = b.NodeType switch
                {
                    ExpressionType.Add => "+", ExpressionType.Subtract => "-", ExpressionType.Multiply => "*", ExpressionType.Divide => "/",
                    ExpressionType.GreaterThan => ">", ExpressionType.LessThan => "<", ExpressionType.GreaterThanOrEqual => ">=",
                    ExpressionType.LessThanOrEqual => "<=", ExpressionType.Equal => "==", ExpressionType.NotEqual => "!=",
                    ExpressionType.AndAlso => "&&", ExpressionType.OrElse => "||", _ => b.NodeType.ToString(),
                };
                var text = $"{S(b.Left)} {op} {S(b.Right)}";
                return top ? text : "(" + text + ")";
            case UnaryExpression { NodeType: ExpressionType.Negate } u: return "-" + Atom(S(u.Operand));
            case UnaryExpression { NodeType: ExpressionType.Convert } u: return $"({Printer.TypeName(u.Type)}){Atom(S(u.Operand))}";
            case MethodCallExpression m:
                var margs = string.Join(", ", m.Arguments.Select(a => CSharp(a, names, top: true)));
                return m.Object is null ? $"{m.Method.DeclaringType!.Name}.{m.Method.Name}({margs})" : $"{Atom(S(m.Object))}.{m.Method.Name}({margs})";
            case MemberExpression me: return me.Expression is null ? $"{me.Member.DeclaringType!.Name}.{me.Member.Name}" : $"{Atom(S(me.Expression))}.{me.Member.Name}";
            case NewArrayExpression na: return "new[] { " + string.Join(", ", na.Expressions.Select(x => CSharp(x, names, top: true))) + " }";
            case ConditionalExpression ce: return $"({S(ce.Test)} ? {S(ce.IfTrue)} : {S(ce.IfFalse)})";
            default: return Printer.Expr(e);
        }
    }
}
