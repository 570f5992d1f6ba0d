using JvpT = Functional.AD.Jvp;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>Selects which arguments <c>Ad.Grad</c> differentiates with respect to (JAX's <c>argnums</c>), in a typed way.</summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor, Tensor&gt;&gt; f = (a, b) =&gt; Np.Sum(a * b);
/// var db = f.Grad(Wrt.Second);   // (a, b) =&gt; gradient w.r.t. b
/// var dab = f.Grad(Wrt.Both);    // (a, b) =&gt; (gradient w.r.t. a, gradient w.r.t. b)
/// </code></example>
public static class Wrt
{
    /// <summary>The second argument.</summary>
    public static SecondArgument Second => default;
    /// <summary>The third argument.</summary>
    public static ThirdArgument Third => default;
    /// <summary>The first and second arguments together.</summary>
    public static FirstAndSecondArguments Both => default;

    /// <summary>Marker: the second argument.</summary>
    public readonly struct SecondArgument;
    /// <summary>Marker: the third argument.</summary>
    public readonly struct ThirdArgument;
    /// <summary>Marker: the first and second arguments.</summary>
    public readonly struct FirstAndSecondArguments;
}

public static partial class Ad
{
    // ------------------------------------------------------------------ forward mode

    /// <summary>
    /// Forward mode: the value and the directional derivative in one pass, <c>(x, ẋ) ↦ (f(x), J(x)·ẋ)</c>.
    /// The tangent has the argument's pytree type; static leaves of it are ignored.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; Math.Sin(x) * x;
    /// var (y, dy) = f.Jvp().Compile()(1.0, 1.0);   // dy = cos(1) + sin(1)
    /// </code></example>
    public static Expression<Func<T1, T1, (TResult Value, TResult Tangent)>> Jvp<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, T1, (TResult, TResult)>>)JvpCore(f, typeof(Func<T1, T1, (TResult, TResult)>), typeof((TResult, TResult)));

    /// <summary>Forward mode for two arguments: <c>(a, b, ȧ, ḃ) ↦ (f(a, b), ∂f/∂a·ȧ + ∂f/∂b·ḃ)</c>.</summary>
    public static Expression<Func<T1, T2, T1, T2, (TResult Value, TResult Tangent)>> Jvp<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, T1, T2, (TResult, TResult)>>)JvpCore(f, typeof(Func<T1, T2, T1, T2, (TResult, TResult)>), typeof((TResult, TResult)));

    /// <summary>Forward mode for three arguments.</summary>
    public static Expression<Func<T1, T2, T3, T1, T2, T3, (TResult Value, TResult Tangent)>> Jvp<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T1, T2, T3, (TResult, TResult)>>)JvpCore(f, typeof(Func<T1, T2, T3, T1, T2, T3, (TResult, TResult)>), typeof((TResult, TResult)));

    internal static LambdaExpression JvpCore(LambdaExpression f, Type delegateType, Type resultType)
    {
        var prog = Reader.Read(f);
        var g = prog.Graph;
        var (b, _, _, outs, tangents) = Forward(g, "d");
        var tangentParams = prog.Parameters.Select(p => Expression.Parameter(p.Type, "d" + p.Name)).ToArray();
        var agreements = TangentAgreements(prog, tangentParams, g.Inputs.Length, new FunctionText(f, "Ad.Jvp"), "tangent", "primal");
        return Finish(b, [.. outs, .. tangents], [.. prog.Parameters, .. tangentParams], [.. prog.ParamDefs, .. prog.ParamDefs], resultType, delegateType, agreements);
    }

    /// <summary>Each Tensor leaf of the tangent parameters (from graph input <paramref name="offset"/> on) must have its primal's shape.</summary>
    static ShapeAgreement[] TangentAgreements(Program prog, ParameterExpression[] tangentParams, int offset, FunctionText api, string what, string primal)
    {
        var list = new List<ShapeAgreement>();
        int k = 0;
        for (int i = 0; i < tangentParams.Length && i < prog.Parameters.Length; i++)
        {
            var primals = prog.ParamDefs[i].LeafInfo(prog.Parameters[i].Name ?? $"arg{i}").ToArray();
            var tans = prog.ParamDefs[i].LeafInfo(tangentParams[i].Name ?? $"d{i}").ToArray();
            for (int j = 0; j < primals.Length; j++, k++)
                if (primals[j].Kind == Kind.Tensor)
                    list.Add(new ShapeAgreement(offset + k, k, false, $"the {what} {tans[j].Path}", $"the {primal} {primals[j].Path}", api));
        }
        return list.ToArray();
    }

    /// <summary>
    /// Forward mode over a whole graph: a builder with the primal inputs, one tangent input per input (named with
    /// <paramref name="prefix"/>; static leaves get none), the primal outputs and their tangents (zeros materialised).
    /// </summary>
    static (Builder B, Node[] Ins, Node[] TangentIns, Node[] Outs, Node[] Tangents) Forward(Graph g, string prefix)
    {
        var b = new Builder();
        var ins = g.Inputs.Select(x => b.InputLike(x)).ToArray();
        var tins = g.Inputs.Select(x => b.Input(x.Kind, prefix + x.Name, x.Value as Type)).ToArray();
        // a tensor argument's tangent is the one passed, or none (zeros) when the argument is an integer or bool tensor
        var (outs, touts) = JvpT.Run(b, g, ins, tins.Select((t, i) => t.Kind == Kind.Tensor ? new V(b.Apply(Prims.TangentFor, [t, ins[i]]))
            : t.Kind.IsFloating() ? new V(t) : null).ToArray());
        return (b, ins, tins, outs, outs.Select((o, k) => touts[k]?.N ?? JvpT.Zero(b, o)).ToArray());
    }

    // ------------------------------------------------------------------ reverse mode with a given cotangent

    /// <summary>
    /// Reverse mode with a given output cotangent: <c>(x, ȳ) ↦ (f(x), J(x)ᵀ·ȳ)</c>, the cotangent having the argument's
    /// type. <c>Grad</c> is <c>Vjp</c> with <c>ȳ = 1</c>; <c>Vjp</c> also works for non-scalar outputs.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Tanh(x);
    /// var (y, xbar) = f.Vjp().Compile()(x, Np.OnesLike(x));   // xbar = 1 - tanh(x)²
    /// </code></example>
    public static Expression<Func<T1, TResult, (TResult Value, T1 Cotangent)>> Vjp<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, TResult, (TResult, T1)>>)VjpCore(f, typeof(Func<T1, TResult, (TResult, T1)>), typeof((TResult, T1)));

    /// <summary>Reverse mode w.r.t. the first of two arguments: <c>(a, b, ȳ) ↦ (f(a, b), (∂f/∂a)ᵀ·ȳ)</c>.</summary>
    public static Expression<Func<T1, T2, TResult, (TResult Value, T1 Cotangent)>> Vjp<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, TResult, (TResult, T1)>>)VjpCore(f, typeof(Func<T1, T2, TResult, (TResult, T1)>), typeof((TResult, T1)));

    internal static LambdaExpression VjpCore(LambdaExpression f, Type delegateType, Type resultType)
    {
        var prog = Reader.Read(f);
        var g = prog.Graph;
        int n0 = prog.ParamDefs[0].LeafCount;
        var wrtLeaf = g.Inputs.Select((x, i) => i < n0 && x.Kind.IsFloating()).ToArray();
        var b = new Builder();
        var ins = g.Inputs.Select(x => b.InputLike(x)).ToArray();
        var cins = g.Outputs.Select((o, k) => b.Input(o.Kind, "ct" + k, o.Value as Type)).ToArray();
        var differentiated = Enumerable.Range(0, g.Outputs.Length).Where(k => g.Outputs[k].Kind.IsFloating()).ToArray();
        var (outs, cts) = ReverseInto(b, g, ins, wrtLeaf, differentiated, _ => differentiated.Select(k => cins[k]).ToArray());
        var result = new List<Node>(outs);
        int c = 0;
        for (int i = 0; i < n0; i++) result.Add(wrtLeaf[i] ? cts[c++] : ins[i]);
        var ctParam = Expression.Parameter(f.ReturnType, "ct");
        if (!wrtLeaf.Any(w => w)) RequireDifferentiable(f, prog, [0], "Ad.Vjp");
        var agreements = new List<ShapeAgreement>();
        var outInfo = prog.OutDef.LeafInfo("ct").ToArray();
        var valueInfo = prog.OutDef.LeafInfo("f(x)").ToArray();
        for (int k = 0; k < outInfo.Length; k++)
            if (outInfo[k].Kind == Kind.Tensor)
                agreements.Add(new ShapeAgreement(g.Inputs.Length + k, k, true, $"the cotangent {outInfo[k].Path}", $"the output {valueInfo[k].Path}", new FunctionText(f, "Ad.Vjp"), prog));
        return Finish(b, result, [.. prog.Parameters, ctParam], [.. prog.ParamDefs, prog.OutDef], resultType, delegateType, agreements.ToArray());
    }

    // ------------------------------------------------------------------ linearize

    /// <summary>
    /// Linearize: <c>x ↦ (f(x), ẋ ↦ J(x)·ẋ)</c>. The primal is computed once; the returned linear function reuses its
    /// intermediates, so applying it to many tangents costs only the linear part.
    /// </summary>
    /// <example><code>
    /// var (y, jvp) = f.Linearize().Compile()(x);
    /// var d1 = jvp(u); var d2 = jvp(v);   // directional derivatives at x, primal not recomputed
    /// </code></example>
    public static Expression<Func<T1, (TResult Value, Func<T1, TResult> Jvp)>> Linearize<T1, TResult>(this Expression<Func<T1, TResult>> f)
    {
        var prog = Reader.Read(f);
        var g = prog.Graph;
        var (b, ins, tins, outs, tangents) = Forward(g, "d");
        var whole = b.Finish([.. outs, .. tangents]);

        // split: what depends on the tangent is the linear part; everything else is computed once, outside
        var linear = new HashSet<Node>(tins, RefEq<Node>.Instance);
        foreach (var n in whole.Nodes) if (n.Args.Any(linear.Contains)) linear.Add(n);
        var innerNodes = whole.Nodes.Where(linear.Contains).ToArray();
        var residuals = innerNodes.SelectMany(n => n.Args).Concat(tangents).Where(a => !linear.Contains(a) && !a.IsConst)
            .Distinct(RefEq<Node>.Instance).ToArray();
        var outer = new Graph(ins, whole.Nodes.Where(n => !linear.Contains(n)).ToArray(), [.. outs, .. residuals]);
        var inner = new Graph([.. residuals, .. tins], innerNodes, tangents);

        var inputs = new List<Expression>();
        for (int i = 0; i < prog.Parameters.Length; i++) prog.ParamDefs[i].LeafAccess(prog.Parameters[i], inputs);
        var (vars, stmts, env) = Writer.Emit(outer, inputs);
        var tParam = Expression.Parameter(typeof(T1), "dx");
        var tLeaves = new List<Expression>();
        prog.ParamDefs[0].LeafAccess(tParam, tLeaves);
        var (ivars, istmts, ienv) = Writer.Emit(inner, [.. residuals.Select(r => env[r]), .. tLeaves]);
        int pos = 0;
        var tangentValue = prog.OutDef.Construct(tangents.Select(t => t.IsConst ? Expression.Constant(t.Value, t.Kind.ClrType()) : ienv[t]).ToArray(), ref pos);
        var jvpLambda = Expression.Lambda<Func<T1, TResult>>(Expression.Block(typeof(TResult), ivars, [.. istmts, tangentValue]), tParam);
        pos = 0;
        var value = prog.OutDef.Construct(outs.Select(o => env[o]).ToArray(), ref pos);
        var result = Expression.New(typeof((TResult, Func<T1, TResult>)).GetConstructor([typeof(TResult), typeof(Func<T1, TResult>)])!, value, jvpLambda);
        return Expression.Lambda<Func<T1, (TResult, Func<T1, TResult>)>>(Expression.Block(result.Type, vars, [.. stmts, result]), prog.Parameters);
    }

    // ------------------------------------------------------------------ which argument, auxiliary outputs

    /// <summary>The gradient with respect to the second argument.</summary>
    public static Expression<Func<T1, T2, T2>> Grad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f, Wrt.SecondArgument _) =>
        (Expression<Func<T1, T2, T2>>)GradWrt(f, [1], typeof(Func<T1, T2, T2>), typeof(T2));

    /// <summary>The gradients with respect to both arguments, as a pair.</summary>
    public static Expression<Func<T1, T2, (T1, T2)>> Grad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f, Wrt.FirstAndSecondArguments _) =>
        (Expression<Func<T1, T2, (T1, T2)>>)GradWrt(f, [0, 1], typeof(Func<T1, T2, (T1, T2)>), typeof((T1, T2)));

    /// <summary>The gradient with respect to the second of three arguments.</summary>
    public static Expression<Func<T1, T2, T3, T2>> Grad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f, Wrt.SecondArgument _) =>
        (Expression<Func<T1, T2, T3, T2>>)GradWrt(f, [1], typeof(Func<T1, T2, T3, T2>), typeof(T2));

    /// <summary>The gradient with respect to the third of three arguments.</summary>
    public static Expression<Func<T1, T2, T3, T3>> Grad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f, Wrt.ThirdArgument _) =>
        (Expression<Func<T1, T2, T3, T3>>)GradWrt(f, [2], typeof(Func<T1, T2, T3, T3>), typeof(T3));

    /// <summary>
    /// The gradient with respect to the arguments at <paramref name="argnums"/> (0-based), for any arity: the result
    /// is the gradient's type for one index, else a ValueTuple of them in order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not an argument of <paramref name="f"/>.</exception>
    public static LambdaExpression Grad(LambdaExpression f, params int[] argnums)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(argnums);
        if (argnums.Length == 0) throw new ArgumentException("Ad.Grad needs at least one argument index.", nameof(argnums));
        foreach (var a in argnums)
            if (a < 0 || a >= f.Parameters.Count)
                throw new ArgumentOutOfRangeException(nameof(argnums), a,
                    $"Argument index {a} is out of range: `{Printer.Expr(f)}` has {f.Parameters.Count} parameter(s), so indices 0..{f.Parameters.Count - 1} are valid.");
        if (argnums.Distinct().Count() != argnums.Length) throw new ArgumentException("Ad.Grad: argument indices repeat.", nameof(argnums));
        var types = argnums.Select(a => f.Parameters[a].Type).ToArray();
        var result = types.Length == 1 ? types[0] : TupleType(types);
        var delegateType = Expression.GetFuncType([.. f.Parameters.Select(p => p.Type), result]);
        return GradWrt(f, argnums, delegateType, result);
    }

    static Type TupleType(Type[] ts) => ts.Length switch
    {
        2 => typeof(ValueTuple<,>).MakeGenericType(ts),
        3 => typeof(ValueTuple<,,>).MakeGenericType(ts),
        4 => typeof(ValueTuple<,,,>).MakeGenericType(ts),
        _ => throw new ArgumentException("Ad.Grad takes at most 4 argument indices."),
    };

    static LambdaExpression GradWrt(LambdaExpression f, int[] wrt, Type delegateType, Type resultType)
    {
        var prog = Reader.Read(f);
        if (prog.OutDef.Leaf is not (Kind.Tensor or Kind.Double or Kind.Float))
            throw new GradException($"Ad.Grad needs a function with a scalar output (double, float or a rank-0 Tensor), but `{Printer.Expr(f)}` returns {Printer.TypeName(f.ReturnType)}.");
        RequireDifferentiable(f, prog, wrt, "Ad.Grad");
        return Reverse(f, prog, wrt, delegateType, resultType, withValue: false, aux: false);
    }

    /// <summary>
    /// The gradient of a function returning <c>(loss, aux)</c>: only <c>loss</c> (a scalar) is differentiated; <c>aux</c>
    /// (any pytree: metrics, predictions) is returned beside the gradient, as JAX's <c>has_aux=True</c>.
    /// </summary>
    public static Expression<Func<T1, (T1 Grad, TAux Aux)>> GradWithAux<T1, TResult, TAux>(this Expression<Func<T1, (TResult, TAux)>> f) =>
        (Expression<Func<T1, (T1, TAux)>>)AuxCore(f, typeof(Func<T1, (T1, TAux)>), typeof((T1, TAux)), withValue: false);

    /// <summary><see cref="GradWithAux{T1, TResult, TAux}(Expression{Func{T1, ValueTuple{TResult, TAux}}})"/> for two arguments (w.r.t. the first).</summary>
    public static Expression<Func<T1, T2, (T1 Grad, TAux Aux)>> GradWithAux<T1, T2, TResult, TAux>(this Expression<Func<T1, T2, (TResult, TAux)>> f) =>
        (Expression<Func<T1, T2, (T1, TAux)>>)AuxCore(f, typeof(Func<T1, T2, (T1, TAux)>), typeof((T1, TAux)), withValue: false);

    /// <summary>Value, gradient and auxiliary output of a function returning <c>(loss, aux)</c>.</summary>
    public static Expression<Func<T1, (TResult Value, T1 Grad, TAux Aux)>> ValueAndGradWithAux<T1, TResult, TAux>(this Expression<Func<T1, (TResult, TAux)>> f) =>
        (Expression<Func<T1, (TResult, T1, TAux)>>)AuxCore(f, typeof(Func<T1, (TResult, T1, TAux)>), typeof((TResult, T1, TAux)), withValue: true);

    static LambdaExpression AuxCore(LambdaExpression f, Type delegateType, Type resultType, bool withValue)
    {
        var prog = Reader.Read(f);
        if (prog.OutDef.Children.Length != 2 || prog.OutDef.Children[0].Leaf is not (Kind.Tensor or Kind.Double or Kind.Float))
            throw new GradException($"Ad.GradWithAux needs a function returning (scalar loss, aux), but `{Printer.Expr(f)}` returns {Printer.TypeName(f.ReturnType)}.");
        RequireDifferentiable(f, prog, [0], "Ad.GradWithAux");
        return Reverse(f, prog, [0], delegateType, resultType, withValue, aux: true);
    }
}

public static partial class Ad
{
    /// <summary>
    /// Hessian-vector product <c>(x, v) ↦ ∇²f(x)·v</c> of a scalar function, forward over reverse (the JVP of the
    /// gradient along v): it costs a small multiple of one gradient and never forms the Hessian.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(x * x * x);
    /// var hv = f.Hvp().Compile()(x, v);   // 6 x v
    /// </code></example>
    public static Expression<Func<T1, T1, T1>> Hvp<T1, TResult>(this Expression<Func<T1, TResult>> f)
    {
        var grad = Reader.Read(GradCore(f, typeof(Func<T1, T1>), typeof(T1), withValue: false));
        var g = grad.Graph;
        var (b, _, _, _, hv) = Forward(g, "v");
        var v = Expression.Parameter(typeof(T1), "v");
        var agreements = TangentAgreements(grad, [v], g.Inputs.Length, new FunctionText(f, "Ad.Hvp"), "direction", "point");
        return (Expression<Func<T1, T1, T1>>)Finish(b, hv, [.. grad.Parameters, v], [.. grad.ParamDefs, grad.ParamDefs[0]], typeof(T1), typeof(Func<T1, T1, T1>), agreements);
    }
}
