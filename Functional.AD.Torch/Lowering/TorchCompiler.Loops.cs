using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// Helpers of the loops lowered as real loops on the host around their lowered bodies (<see cref="EmitBody"/>,
/// <see cref="CountedLoop"/>, <see cref="Accumulate"/>). Every temporary of a loop belongs to the call's dispose scope:
/// it is freed when the call returns.
/// </summary>
internal sealed partial class TorchCompiler
{
    /// <summary>A sub-graph lowered in place: its locals, statements, output expressions and output avals.</summary>
    internal sealed record LoweredBody(ParameterExpression[] Vars, Expression[] Stmts, Expression[] Outs, Aval?[] Avals)
    {
        /// <summary>The body's statements followed by <paramref name="tail"/> (which may read <see cref="Outs"/>), as one block.</summary>
        public Expression Then(params Expression[] tail) => Expression.Block(typeof(void), Vars, [.. Stmts, .. tail, Expression.Empty()]);
    }

    /// <summary>Lowers <paramref name="g"/> on the given input expressions and avals (every output kept).</summary>
    internal LoweredBody EmitBody(Graph g, Expression[] inputs, Aval?[] inputAvals)
    {
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression>();
        var (outs, avals) = EmitGraph(g, inputs, inputAvals, vars, stmts);
        return new LoweredBody(vars.ToArray(), stmts.ToArray(), outs, avals);
    }

    /// <summary>
    /// <c>for (i = 0; i &lt; n; i++) body</c>, or <c>for (i = n - 1; i &gt;= 0; i--) body</c> when <paramref name="reverse"/>:
    /// a counted loop on the host; <paramref name="i"/> must be declared by the caller.
    /// </summary>
    internal static Expression CountedLoop(ParameterExpression i, Expression n, Expression body, bool reverse = false)
    {
        var brk = Expression.Label("done");
        return Expression.Block(
            Expression.Assign(i, reverse ? Expression.Decrement(n) : Expression.Constant(0)),
            Expression.Loop(Expression.IfThenElse(reverse ? Expression.GreaterThanOrEqual(i, Expression.Constant(0)) : Expression.LessThan(i, n),
                Expression.Block(body, reverse ? Expression.PostDecrementAssign(i) : Expression.PostIncrementAssign(i)),
                Expression.Break(brk)), brk));
    }

    static readonly Func<TT, TT, TT> AddTensors = (a, b) => a + b;

    /// <summary><c>acc + x</c> for a tensor (libtorch addition) or a C# scalar.</summary>
    internal static Expression Accumulate(Expression acc, Expression x) => acc.Type == typeof(TT)
        ? Expression.Invoke(Expression.Constant(AddTensors), acc, Primitive.Conv(x, typeof(TT)))
        : Expression.Add(acc, Primitive.Conv(x, acc.Type));

    /// <summary>The zero of a value of <paramref name="aval"/> and CLR type <paramref name="type"/> (a loop that runs no iteration).</summary>
    Expression ZeroOf(Type type, Aval? aval)
    {
        if (type != typeof(TT)) return Expression.Default(type);
        var a = aval ?? throw new InvalidOperationException("Internal error: the aval of an empty loop's result is unknown.");
        var dims = Lowerings.Longs(a.Dims);
        var dtype = Lowerings.ScalarOf(a.DType);
        var device = backend.Device;
        Func<TT> zeros = () => torch.zeros(dims, dtype, device);
        return Expression.Invoke(Expression.Constant(zeros));
    }

    static Expression Index(Expression i) => Expression.Convert(i, typeof(double));

    static Expression TapeAt(Expression tape, Expression i, Type carry) => Expression.Convert(Expression.ArrayIndex(tape, i), carry);
}
