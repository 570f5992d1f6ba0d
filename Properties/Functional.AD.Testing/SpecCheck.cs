using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD.Testing;

/// <summary>
/// Checks a spec's gradient: the function <c>f(x1, ..., xn)</c> is projected to a scalar with random weights,
/// <c>h(xs, w) = Sum(f(xs) * w)</c>, differentiated once with <c>Ad.Grad</c> (w.r.t. all tensor arguments, packed
/// in a ValueTuple), compiled once, and compared with float64 central differences on any number of inputs.
/// </summary>
/// <example><code>
/// var check = new SpecCheck(spec);                       // compiled once
/// var x = new Tensor(new[] { 0.3, -1.2, 2.0 });
/// check.Check([x], seed: 1).Assert();                    // gradient against central differences
/// </code></example>
public sealed class SpecCheck
{
    readonly PrimitiveSpec spec;
    readonly Type tupleType;
    readonly Delegate value;      // (VT xs, Tensor w) => Tensor
    readonly Delegate gradient;   // (VT xs, Tensor w) => VT
    readonly Delegate plain;      // (VT xs) => Tensor

    /// <summary>The projected function <c>(xs, w) =&gt; Np.Sum(f(xs...) * w)</c>.</summary>
    public LambdaExpression Projected { get; }
    /// <summary>Its gradient with respect to xs.</summary>
    public LambdaExpression Gradient { get; }

    /// <summary>Builds and compiles the projected function and its gradient.</summary>
    public SpecCheck(PrimitiveSpec spec)
    {
        this.spec = spec;
        int n = spec.Arity;
        tupleType = n switch
        {
            1 => typeof(ValueTuple<Tensor>),
            2 => typeof(ValueTuple<Tensor, Tensor>),
            3 => typeof(ValueTuple<Tensor, Tensor, Tensor>),
            _ => throw new ArgumentException("specs take 1 to 3 tensors"),
        };
        var xs = Expression.Parameter(tupleType, "xs");
        var w = Expression.Parameter(typeof(Tensor), "w");
        var args = Enumerable.Range(1, n).Select(i => (Expression)Expression.Field(xs, "Item" + i)).ToArray();
        var call = Expression.Invoke(spec.Function, args);
        var sum = typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!;
        var body = Expression.Call(sum, Expression.Call(typeof(Np).GetMethod(nameof(Np.Mul))!, call, w),
            Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        Projected = Expression.Lambda(typeof(Func<,,>).MakeGenericType(tupleType, typeof(Tensor), typeof(Tensor)), body, xs, w);
        var grad = typeof(Ad).GetMethods().Single(m => m.Name == nameof(Ad.Grad) && m.GetGenericArguments().Length == 3 && m.GetParameters().Length == 1)
            .MakeGenericMethod(tupleType, typeof(Tensor), typeof(Tensor));
        Gradient = (LambdaExpression)grad.Invoke(null, [Projected])!;
        value = Projected.Compile();
        gradient = Gradient.Compile();
        var plainLambda = Expression.Lambda(call, xs);
        plain = plainLambda.Compile();
        jvpExpr = new(() => (LambdaExpression)AdMethod(nameof(Ad.Jvp), 2, 1).MakeGenericMethod(tupleType, typeof(Tensor)).Invoke(null, [plainLambda])!);
        vjpExpr = new(() => (LambdaExpression)AdMethod(nameof(Ad.Vjp), 2, 1).MakeGenericMethod(tupleType, typeof(Tensor)).Invoke(null, [plainLambda])!);
        hvpExpr = new(() => (LambdaExpression)AdMethod(nameof(Ad.Jvp), 3, 1).MakeGenericMethod(tupleType, typeof(Tensor), tupleType).Invoke(null, [Gradient])!);
        jvp = new(() => jvpExpr.Value.Compile());
        vjp = new(() => vjpExpr.Value.Compile());
        hvp = new(() => hvpExpr.Value.Compile());
    }

    readonly Lazy<Delegate> jvp, vjp, hvp;
    readonly Lazy<LambdaExpression> jvpExpr, vjpExpr, hvpExpr;

    /// <summary><c>Ad.Jvp</c> of the packed function: <c>(xs, dxs) =&gt; (f(xs), J·dxs)</c>.</summary>
    public LambdaExpression JvpExpression => jvpExpr.Value;
    /// <summary><c>Ad.Vjp</c> of the packed function: <c>(xs, ct) =&gt; (f(xs), Jᵀ·ct)</c>.</summary>
    public LambdaExpression VjpExpression => vjpExpr.Value;
    /// <summary><c>Ad.Jvp</c> of <see cref="Gradient"/>: forward over reverse.</summary>
    public LambdaExpression HvpExpression => hvpExpr.Value;
    /// <summary>The packed argument type (a ValueTuple of the spec's tensors).</summary>
    public Type TupleType => tupleType;
    /// <summary>Packs tensors into <see cref="TupleType"/>.</summary>
    public object PackArgs(Tensor[] args) => Pack(args);

    static MethodInfo AdMethod(string name, int generics, int parameters) =>
        typeof(Ad).GetMethods().Single(m => m.Name == name && m.GetGenericArguments().Length == generics && m.GetParameters().Length == parameters);

    /// <summary>Forward mode: <c>(f(args), J·tangents)</c>.</summary>
    public (Tensor Value, Tensor Tangent) JvpAt(Tensor[] args, Tensor[] tangents)
    {
        var r = jvp.Value.DynamicInvoke(Pack(args), Pack(tangents))!;
        return ((Tensor)r.GetType().GetField("Item1")!.GetValue(r)!, (Tensor)r.GetType().GetField("Item2")!.GetValue(r)!);
    }

    /// <summary>Reverse mode with a given cotangent: <c>Jᵀ·ct</c> for each argument.</summary>
    public Tensor[] VjpAt(Tensor[] args, Tensor ct)
    {
        var r = vjp.Value.DynamicInvoke(Pack(args), ct)!;
        return Unpack(r.GetType().GetField("Item2")!.GetValue(r)!);
    }

    /// <summary>Hessian-vector product of the projection <c>Sum(f(xs) * w)</c>, forward over reverse: <c>Jvp(Grad)</c>.</summary>
    public Tensor[] HvpAt(Tensor[] args, Tensor w, Tensor[] v)
    {
        var r = hvp.Value.DynamicInvoke(Pack(args), w, Pack(v), Np.ZerosLike(w))!;
        return Unpack(r.GetType().GetField("Item2")!.GetValue(r)!);
    }

    object Pack(Tensor[] args) => Activator.CreateInstance(tupleType, args)!;

    Tensor[] Unpack(object tuple) =>
        Enumerable.Range(1, spec.Arity).Select(i => (Tensor)tupleType.GetField("Item" + i)!.GetValue(tuple)!).ToArray();

    /// <summary>f(args), eagerly.</summary>
    public Tensor Evaluate(Tensor[] args) => (Tensor)plain.DynamicInvoke(Pack(args))!;

    /// <summary>The gradient of <c>Sum(f(args) * w)</c> with respect to each argument.</summary>
    public Tensor[] GradientAt(Tensor[] args, Tensor w) => Unpack(gradient.DynamicInvoke(Pack(args), w)!);

    double Value(Tensor[] args, Tensor w) => (double)(Tensor)value.DynamicInvoke(Pack(args), w)!;

    /// <summary>
    /// Compares every component of the gradient of a random projection (weights from <paramref name="seed"/>)
    /// with central differences, in float64. For specs whose derivative is zero by definition, checks it is exactly zero.
    /// </summary>
    public GradCheckResult Check(Tensor[] args, int seed)
    {
        double h = spec.Step;
        args = args.Select(a => a.AsType(DType.Float64)).ToArray();
        var w = Gens.Weights(Evaluate(args).Shape, DType.Float64, seed);
        var g = GradientAt(args, w);
        double worst = 0; string where = "-"; double ws = 0, wn = 0; int count = 0;
        for (int a = 0; a < args.Length; a++)
        {
            if (g[a].Aval.Shape.SequenceEqual(args[a].Shape) is false)
                return new GradCheckResult(false, double.PositiveInfinity, $"argument {a}: gradient shape {g[a].Aval} differs from the argument's {args[a].Aval}", 0, 0, count, spec.Tolerance);
            var x = args[a].ToDoubleArray();
            var ga = g[a].ToDoubleArray();
            for (int i = 0; i < x.Length; i++)
            {
                count++;
                double num;
                if (spec.FiniteDifferences)
                {
                    var plus = (double[])x.Clone(); plus[i] += h;
                    var minus = (double[])x.Clone(); minus[i] -= h;
                    var ap = (Tensor[])args.Clone(); ap[a] = new Tensor(plus, args[a].Shape.ToArray());
                    var am = (Tensor[])args.Clone(); am[a] = new Tensor(minus, args[a].Shape.ToArray());
                    num = (Value(ap, w) - Value(am, w)) / (2 * h);
                }
                else num = 0;
                double err = Math.Abs(ga[i] - num) / Math.Max(1, Math.Max(Math.Abs(ga[i]), Math.Abs(num)));
                if (double.IsNaN(ga[i]) || double.IsNaN(num)) err = double.IsNaN(ga[i]) && double.IsNaN(num) ? 0 : double.PositiveInfinity;
                if (!spec.FiniteDifferences && ga[i] != 0) err = double.PositiveInfinity;
                if (err >= worst) { worst = err; where = $"argument {a}, element {i}"; ws = ga[i]; wn = num; }
            }
        }
        return new GradCheckResult(worst <= spec.Tolerance, worst, where, ws, wn, count, spec.Tolerance);
    }

    /// <summary>A printable case: the spec, its inputs and the seed, for replaying a failure.</summary>
    public string Describe(Tensor[] args, int seed) =>
        $"{spec.Name}: f = {spec.Function}\n  seed {seed}\n" + string.Join("\n", args.Select((a, i) => $"  x{i + 1} = {a}"));
}
