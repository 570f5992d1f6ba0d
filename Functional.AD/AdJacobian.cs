using System.Linq.Expressions;

namespace Functional.AD;

public static partial class Ad
{
    /// <summary>
    /// The Jacobian by forward mode: one JVP per basis tangent, batched with <see cref="Vmap{T1, T2, TResult}(Expression{Func{T1, T2, TResult}}, int?[], int?[], int?, IReadOnlyDictionary{string, int?})"/>.
    /// For <c>f: [s] -&gt; [o]</c> the result has shape <c>o ++ s</c>. Cheap when the input is small (tall Jacobians).
    /// A pytree output is raveled into one vector (its leaves, flattened and concatenated in order).
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sin(x) * 2;
    /// var j = f.Jacfwd().Compile()(x);   // diag(2 cos x)
    /// </code></example>
    /// <exception cref="PytreeException">The output is neither a tensor nor a pytree.</exception>
    public static Expression<Func<Tensor, Tensor>> Jacfwd<TResult>(this Expression<Func<Tensor, TResult>> f)
    {
        var g = RavelOutput(f);
        var jvp = g.Jvp();
        Expression<Func<Tensor, Tensor, Tensor>> tangent = (x, dx) => jvp.Invoke(x, dx).Tangent;
        var rows = Vmap(tangent, inAxes: [null, 0]);
        return x => JacobianLayout.FromRows(rows.Invoke(x, JacobianLayout.Basis(x, 0)), x, 0);
    }

    /// <summary>
    /// The Jacobian by reverse mode: one VJP per basis cotangent, batched with Vmap. Same layout as
    /// <see cref="Jacfwd{TResult}"/>; cheap when the output is small (wide Jacobians).
    /// </summary>
    /// <exception cref="PytreeException">The output is neither a tensor nor a pytree.</exception>
    public static Expression<Func<Tensor, Tensor>> Jacrev<TResult>(this Expression<Func<Tensor, TResult>> f)
    {
        var g = RavelOutput(f);
        var vjp = g.Vjp();
        Expression<Func<Tensor, Tensor, Tensor>> cotangent = (x, ct) => vjp.Invoke(x, ct).Cotangent;
        var rows = Vmap(cotangent, inAxes: [null, 0]);
        return x => Np.Let(g.Invoke(x), y => JacobianLayout.FromColumns(rows.Invoke(x, JacobianLayout.Basis(y, 0)), y, 0));
    }

    /// <summary>
    /// The Hessian of a scalar function, <c>∇²f(x)</c> of shape <c>s ++ s</c>: the forward-mode Jacobian of the reverse-mode
    /// gradient. For a product with one vector use <see cref="Hvp{T1, TResult}"/>, which never forms the matrix.
    /// </summary>
    /// <exception cref="GradException">(When the result runs) the function's output is not a scalar; the message gives its shape.</exception>
    public static Expression<Func<Tensor, Tensor>> Hessian<TResult>(this Expression<Func<Tensor, TResult>> f)
    {
        if (TreeDef.Of(typeof(TResult)).Leaf is not (Kind.Tensor or Kind.Double or Kind.Float))
            throw new GradException($"Ad.Hessian needs a function with a scalar output (double, float or a rank-0 Tensor), but `{Printer.Expr(f)}` returns {Printer.TypeName(typeof(TResult))}.");
        return f.Grad().Jacfwd();
    }

    /// <summary>
    /// A function of a pytree as a function of one flat vector (the layout of <see cref="Tree.Ravel{T}"/> for
    /// <paramref name="example"/>'s shapes), so that Jacobians and Hessians of pytree functions are Jacobians of tensors.
    /// </summary>
    /// <example><code>
    /// var (flat, unravel) = Tree.Ravel(p);
    /// var h = Ad.Ravel(loss, p).Hessian().Compile()(flat);
    /// </code></example>
    public static Expression<Func<Tensor, TResult>> Ravel<T, TResult>(Expression<Func<T, TResult>> f, T example)
    {
        var def = TreeDef.Of(typeof(T));
        var leaves = new List<object?>();
        def.Flatten(example, leaves);
        var info = def.LeafInfo("").ToArray();
        var flat = Expression.Parameter(typeof(Tensor), "flat");
        var tensors = leaves.Select((l, i) => info[i].Kind == Kind.Static ? null : l switch
        {
            Tensor t => t.Aval,
            double => Aval.ScalarDouble,
            float => Aval.ScalarFloat,
            _ => null,
        }).ToArray();
        var parts = tensors.Where(a => a is not null).Select(a => new Aval([a!.Size], a.DType)).ToArray();
        var partsExpr = Expression.NewArrayInit(typeof(Aval), parts.Select(p => Expression.Constant(p)));
        var exprs = new List<Expression>();
        int j = 0;
        for (int i = 0; i < leaves.Count; i++)
        {
            if (tensors[i] is not { } a) { exprs.Add(Expression.Constant(leaves[i], info[i].Type)); continue; }
            Expression part = Expression.Call(typeof(Lax).GetMethod(nameof(Lax.SplitPart))!, flat, Expression.Constant(0), Expression.Constant(j++), partsExpr);
            part = Expression.Call(typeof(Lax).GetMethod(nameof(Lax.ReshapeTo))!, part, Expression.Constant(new Aval(a.Shape.ToArray(), a.DType)));
            if (info[i].Type == typeof(double)) part = Expression.Call(typeof(Lax).GetMethod(nameof(Lax.ToDouble))!, part);
            else if (info[i].Type == typeof(float)) part = Expression.Call(typeof(Lax).GetMethod(nameof(Lax.ToFloat))!, part);
            exprs.Add(part);
        }
        int pos = 0;
        var tree = def.Construct(exprs, ref pos);
        return Expression.Lambda<Func<Tensor, TResult>>(Expression.Invoke(f, tree), flat);
    }

    /// <summary>A pytree-valued function as a vector-valued one: its output leaves flattened and concatenated.</summary>
    static Expression<Func<Tensor, Tensor>> RavelOutput<TResult>(Expression<Func<Tensor, TResult>> f)
    {
        if (typeof(TResult) == typeof(Tensor)) return (Expression<Func<Tensor, Tensor>>)(object)f;
        var def = TreeDef.Of(typeof(TResult));
        var x = Expression.Parameter(typeof(Tensor), "x");
        var y = Expression.Parameter(typeof(TResult), "y");
        var leaves = new List<Expression>();
        def.LeafAccess(y, leaves);
        var floating = leaves.Where((_, i) => def.LeafInfo("").ElementAt(i).Kind.IsFloating()).Select(l =>
            l.Type == typeof(Tensor) ? l : Expression.Convert(l.Type == typeof(float) ? Expression.Convert(l, typeof(double)) : l, typeof(Tensor))).ToArray();
        if (floating.Length == 0) throw new PytreeException($"Ad.Jacfwd/Jacrev: `{Printer.Expr(f)}` returns {Printer.TypeName(typeof(TResult))}, which has no floating leaves.");
        var reshaped = floating.Select(l => (Expression)Expression.Call(typeof(Np).GetMethod(nameof(Np.Reshape))!, l, Expression.Constant(new[] { -1 })));
        var concat = Expression.Call(typeof(Np).GetMethod(nameof(Np.Concatenate))!, Expression.NewArrayInit(typeof(Tensor), reshaped), Expression.Constant(0));
        var let = Expression.Call(typeof(Np).GetMethod(nameof(Np.Let))!.MakeGenericMethod(typeof(TResult), typeof(Tensor)), Expression.Invoke(f, x), Expression.Lambda<Func<TResult, Tensor>>(concat, y));
        return Expression.Lambda<Func<Tensor, Tensor>>(let, x);
    }
}
