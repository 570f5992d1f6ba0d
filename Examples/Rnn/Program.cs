// A small LSTM trained with Np.Scan to predict the next value of a noisy sine wave.
// Run: dotnet run --project Examples/Rnn -c Release
// The recurrence is one Np.Scan whose carry is the LSTM's state (h, c), a record: the loop carries one value per
// leaf, and Ad.Grad differentiates through it (reverse mode keeps the two states of every step). The body is a lambda,
// read once as a sub-graph; Ad.Jit runs it as a real loop, not unrolled. The program exits with 1 unless the gradient
// matches central differences and the loss goes down below the naive forecast's.
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

const int Hidden = 8, Steps = 60, Epochs = 300;
const double LearningRate = 0.05;

// the series: s_t = sin(0.3 t) + noise; the input at step t is s_t, the target s_{t+1}
var rng = new Random(1);
var series = Enumerable.Range(0, Steps + 1).Select(t => Math.Sin(0.3 * t) + 0.05 * Gaussian(rng)).ToArray();
var xs = Tensor.FromArray(Enumerable.Range(0, Steps).Select(t => new[] { series[t] }).ToArray().To2D(), DType.Float64);   // [Steps, 1]
var targets = Tensor.FromArray(series.Skip(1).ToArray(), DType.Float64);                                                     // [Steps]

// One LSTM step on v = [x; h]: forget, input and output gates, a candidate cell; then the prediction y = Wy . h' + by.
//   c' = sigmoid(Wf v + bf) * c + sigmoid(Wi v + bi) * tanh(Wg v + bg)
//   h' = sigmoid(Wo v + bo) * tanh(c')
Expression<Func<Lstm, LstmState, Tensor, (LstmState, Tensor)>> step = (p, s, x) =>
    Let(Concatenate(new[] { x, s.H }, 0), v =>
    Let(Sigmoid(Dot(p.Wf, v) + p.Bf) * s.C + Sigmoid(Dot(p.Wi, v) + p.Bi) * Tanh(Dot(p.Wg, v) + p.Bg), c2 =>
    Let(Sigmoid(Dot(p.Wo, v) + p.Bo) * Tanh(c2), h2 =>
        Tuple(new LstmState(h2, c2), Dot(p.Wy, h2) + p.By))));

// the loss: the mean squared error of the one-step predictions, the state starting at zero
Expression<Func<Lstm, Tensor, Tensor, Tensor>> loss = (p, x, y) =>
    Let(Scan(x, new LstmState(p.Bf * 0, p.Bf * 0), (LstmState s, Tensor xt) => step.Invoke(p, s, xt)).Item2,
        pred => Sum((pred - y) * (pred - y)) / Steps);

var lossFn = Ad.Jit(loss);
var gradFn = Ad.Jit(loss.Grad());

var z = Zeros([Hidden, 1 + Hidden], DType.Float64);
var b = Zeros([Hidden], DType.Float64);
var template = new Lstm(z, z, z, z, b, b, b, b, b, Zeros([], DType.Float64));
var p = Tree.Normal(PrngKey.Create(0), template, 0.3);
p = p with { Bf = p.Bf + 1 };   // a forget gate open at the start, as is usual for LSTMs

// the gradient through the loop against float64 central differences, on one recurrent weight of the forget gate
{
    var g = gradFn(p, xs, targets).Wf.ToDoubleArray()[5];
    double eps = 1e-6;
    var bump = new double[Hidden * (1 + Hidden)]; bump[5] = eps;
    var d = Reshape(Tensor.FromArray(bump, DType.Float64), [Hidden, 1 + Hidden]);
    double num = ((double)lossFn(p with { Wf = p.Wf + d }, xs, targets) - (double)lossFn(p with { Wf = p.Wf - d }, xs, targets)) / (2 * eps);
    Console.WriteLine($"dLoss/dWf[0,5]: through the loop {g:E6}, central differences {num:E6}");
    if (Math.Abs(g - num) > 1e-6 * Math.Max(1, Math.Abs(num))) { Console.WriteLine("gradient check failed"); return 1; }
}

// plain gradient descent with momentum
double first = (double)lossFn(p, xs, targets), last = first;
var velocity = Tree.Map(t => t * 0, p);
for (int epoch = 0; epoch <= Epochs; epoch++)
{
    if (epoch % 50 == 0)
    {
        last = (double)lossFn(p, xs, targets);
        Console.WriteLine($"epoch {epoch,4}: loss {last:F5}");
    }
    var grad = gradFn(p, xs, targets);
    velocity = Tree.Map((v, g) => 0.9 * v - LearningRate * g, velocity, grad);
    p = Tree.Map((w, v) => w + v, p, velocity);
}
// predicting "the next value equals this one" is the baseline a working model must beat
double naive = Enumerable.Range(0, Steps).Average(t => (series[t + 1] - series[t]) * (series[t + 1] - series[t]));
Console.WriteLine($"loss {first:F5} -> {last:F5}; repeating the last value scores {naive:F5}");
bool ok = last < 0.1 * first && last < naive;
Console.WriteLine(ok ? "The loss went down and the LSTM beats repeating the last value." : "The LSTM did not learn.");
return ok ? 0 : 1;

static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

/// <summary>The LSTM's state, carried through the Scan: the hidden state h and the cell state c, each [Hidden].</summary>
record LstmState(Tensor H, Tensor C);

/// <summary>The LSTM's parameters, a pytree differentiated as one argument: a [Hidden, 1 + Hidden] matrix and a bias per gate, then the readout.</summary>
record Lstm(Tensor Wf, Tensor Wi, Tensor Wg, Tensor Wo, Tensor Bf, Tensor Bi, Tensor Bg, Tensor Bo, Tensor Wy, Tensor By);

static class ArrayExtensions
{
    public static double[,] To2D(this double[][] rows)
    {
        var a = new double[rows.Length, rows[0].Length];
        for (int i = 0; i < rows.Length; i++) for (int j = 0; j < rows[0].Length; j++) a[i, j] = rows[i][j];
        return a;
    }
}
