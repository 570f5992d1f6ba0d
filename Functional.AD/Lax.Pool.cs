namespace Functional.AD;

// Pooling: JAX's lax.reduce_window for max, sum and mean, and the primitives their derivatives use (declared in
// Primitives/Prims.Pool.cs; kernels in Primitives/Window.cs).
public static partial class Lax
{
    /// <summary>
    /// JAX's <c>reduce_window</c> with max: the maximum of each window (padding counts as -inf, or the dtype's minimum for integers; NaN propagates). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 2 }, new[] { 1, 1, 2, 2 }, "VALID")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMax(Tensor x, int[] window, int[] strides, string padding) => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindowMax", window, strides, padding, null), "Lax.ReduceWindowMax");

    /// <summary>
    /// JAX's <c>reduce_window</c> with max: the maximum of each window (padding counts as -inf, or the dtype's minimum for integers; NaN propagates). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 2 }, new[] { 1, 1, 2, 2 }, "VALID")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMax(Tensor x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindowMax", window, strides, padding, windowDilation), "Lax.ReduceWindowMax");

    /// <summary>
    /// JAX's <c>reduce_window</c> with max: the maximum of each window (padding counts as -inf, or the dtype's minimum for integers; NaN propagates). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 2 }, new[] { 1, 1, 2, 2 }, "VALID")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMax(Tensor x, int[] window, int[] strides, int[] padding) => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindowMax", window, strides, padding, null), "Lax.ReduceWindowMax");

    /// <summary>
    /// JAX's <c>reduce_window</c> with max: the maximum of each window (padding counts as -inf, or the dtype's minimum for integers; NaN propagates). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 2 }, new[] { 1, 1, 2, 2 }, "VALID")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMax(Tensor x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindowMax", window, strides, padding, windowDilation), "Lax.ReduceWindowMax");

    /// <summary>
    /// JAX's <c>reduce_window</c> with sum: the sum of each window (padding counts as 0). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowSum(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowSum(Tensor x, int[] window, int[] strides, string padding) => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindowSum", window, strides, padding, null), "Lax.ReduceWindowSum");

    /// <summary>
    /// JAX's <c>reduce_window</c> with sum: the sum of each window (padding counts as 0). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowSum(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowSum(Tensor x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindowSum", window, strides, padding, windowDilation), "Lax.ReduceWindowSum");

    /// <summary>
    /// JAX's <c>reduce_window</c> with sum: the sum of each window (padding counts as 0). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowSum(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowSum(Tensor x, int[] window, int[] strides, int[] padding) => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindowSum", window, strides, padding, null), "Lax.ReduceWindowSum");

    /// <summary>
    /// JAX's <c>reduce_window</c> with sum: the sum of each window (padding counts as 0). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes every number dtype (integers exactly). Example: <c>Lax.ReduceWindowSum(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowSum(Tensor x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindowSum", window, strides, padding, windowDilation), "Lax.ReduceWindowSum");

    /// <summary>
    /// JAX's <c>reduce_window</c> with mean: the mean of each window: its sum (padding counts as 0) divided by the number of window taps, padding included (PyTorch's <c>count_include_pad=True</c>; flax's <c>avg_pool</c> with <c>count_include_pad=True</c>). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes float dtypes. Example: <c>Lax.ReduceWindowMean(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMean(Tensor x, int[] window, int[] strides, string padding) => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindowMean", window, strides, padding, null), "Lax.ReduceWindowMean");

    /// <summary>
    /// JAX's <c>reduce_window</c> with mean: the mean of each window: its sum (padding counts as 0) divided by the number of window taps, padding included (PyTorch's <c>count_include_pad=True</c>; flax's <c>avg_pool</c> with <c>count_include_pad=True</c>). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes float dtypes. Example: <c>Lax.ReduceWindowMean(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding"><c>"SAME"</c> (the output has <c>ceil(n / stride)</c> positions per axis; the padding needed is split as JAX splits it, low = total / 2, high = the rest) or <c>"VALID"</c> (no padding).</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMean(Tensor x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindowMean", window, strides, padding, windowDilation), "Lax.ReduceWindowMean");

    /// <summary>
    /// JAX's <c>reduce_window</c> with mean: the mean of each window: its sum (padding counts as 0) divided by the number of window taps, padding included (PyTorch's <c>count_include_pad=True</c>; flax's <c>avg_pool</c> with <c>count_include_pad=True</c>). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes float dtypes. Example: <c>Lax.ReduceWindowMean(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMean(Tensor x, int[] window, int[] strides, int[] padding) => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindowMean", window, strides, padding, null), "Lax.ReduceWindowMean");

    /// <summary>
    /// JAX's <c>reduce_window</c> with mean: the mean of each window: its sum (padding counts as 0) divided by the number of window taps, padding included (PyTorch's <c>count_include_pad=True</c>; flax's <c>avg_pool</c> with <c>count_include_pad=True</c>). The window has one entry per axis of x (size 1 and stride 1
    /// on axes it does not pool); output position <c>o</c> reads the input at <c>o * stride + w * dilation - low</c>
    /// for each window tap <c>w</c>, so each axis has <c>(n + low + high - ((size - 1) * dilation + 1)) / stride + 1</c> positions.
    /// Takes float dtypes. Example: <c>Lax.ReduceWindowMean(x, new[] { 3 }, new[] { 1 }, new[] { 1, 1 })</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">explicit (low, high) pairs per axis, flat: <c>new[] { low0, high0, low1, high1, ... }</c>.</param>
    /// <param name="windowDilation">The distance between window taps along each axis (1: adjacent).</param>
    /// <returns>The pooled tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindowMean(Tensor x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindowMean", window, strides, padding, windowDilation), "Lax.ReduceWindowMean");

    /// <summary>
    /// JAX's <c>reduce_window</c> for the three reductions pooling uses: <see cref="WindowReduction.Max"/>
    /// (<see cref="ReduceWindowMax(Tensor, int[], int[], string)"/>), <see cref="WindowReduction.Sum"/> and
    /// <see cref="WindowReduction.Mean"/> (divided by the number of window taps, padding included).
    /// Example: <c>Lax.ReduceWindow(x, WindowReduction.Max, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 2, 2 }, "SAME")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="reduction">Max, Sum or Mean.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">"SAME", "VALID", or flat (low, high) pairs per axis.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindow(Tensor x, WindowReduction reduction, int[] window, int[] strides, string padding) => reduction switch
    {
        WindowReduction.Max => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        WindowReduction.Sum => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        WindowReduction.Mean => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Max, Sum or Mean"),
    };

    /// <summary>
    /// JAX's <c>reduce_window</c> for the three reductions pooling uses: <see cref="WindowReduction.Max"/>
    /// (<see cref="ReduceWindowMax(Tensor, int[], int[], string)"/>), <see cref="WindowReduction.Sum"/> and
    /// <see cref="WindowReduction.Mean"/> (divided by the number of window taps, padding included).
    /// Example: <c>Lax.ReduceWindow(x, WindowReduction.Max, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 2, 2 }, "SAME")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="reduction">Max, Sum or Mean.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">"SAME", "VALID", or flat (low, high) pairs per axis.</param>
    /// <param name="windowDilation">The distance between window taps along each axis.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindow(Tensor x, WindowReduction reduction, int[] window, int[] strides, string padding, int[] windowDilation) => reduction switch
    {
        WindowReduction.Max => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        WindowReduction.Sum => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        WindowReduction.Mean => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Max, Sum or Mean"),
    };

    /// <summary>
    /// JAX's <c>reduce_window</c> for the three reductions pooling uses: <see cref="WindowReduction.Max"/>
    /// (<see cref="ReduceWindowMax(Tensor, int[], int[], string)"/>), <see cref="WindowReduction.Sum"/> and
    /// <see cref="WindowReduction.Mean"/> (divided by the number of window taps, padding included).
    /// Example: <c>Lax.ReduceWindow(x, WindowReduction.Max, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 2, 2 }, "SAME")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="reduction">Max, Sum or Mean.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">"SAME", "VALID", or flat (low, high) pairs per axis.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindow(Tensor x, WindowReduction reduction, int[] window, int[] strides, int[] padding) => reduction switch
    {
        WindowReduction.Max => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        WindowReduction.Sum => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        WindowReduction.Mean => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, null), "Lax.ReduceWindow"),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Max, Sum or Mean"),
    };

    /// <summary>
    /// JAX's <c>reduce_window</c> for the three reductions pooling uses: <see cref="WindowReduction.Max"/>
    /// (<see cref="ReduceWindowMax(Tensor, int[], int[], string)"/>), <see cref="WindowReduction.Sum"/> and
    /// <see cref="WindowReduction.Mean"/> (divided by the number of window taps, padding included).
    /// Example: <c>Lax.ReduceWindow(x, WindowReduction.Max, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 2, 2 }, "SAME")</c>.
    /// </summary>
    /// <param name="x">The operand.</param>
    /// <param name="reduction">Max, Sum or Mean.</param>
    /// <param name="window">The window size along each axis of x.</param>
    /// <param name="strides">The step between windows along each axis.</param>
    /// <param name="padding">"SAME", "VALID", or flat (low, high) pairs per axis.</param>
    /// <param name="windowDilation">The distance between window taps along each axis.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">The window's rank is not x's, or a window does not fit in the padded input.</exception>
    public static Tensor ReduceWindow(Tensor x, WindowReduction reduction, int[] window, int[] strides, int[] padding, int[] windowDilation) => reduction switch
    {
        WindowReduction.Max => WindowOps.Max(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        WindowReduction.Sum => WindowOps.Sum(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        WindowReduction.Mean => WindowOps.Mean(x, WindowParams.Of("Lax.ReduceWindow", window, strides, padding, windowDilation), "Lax.ReduceWindow"),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Max, Sum or Mean"),
    };

    /// <summary>
    /// the JVP of <see cref="ReduceWindowMax(Tensor, int[], int[], string, int[])"/> (JAX's <c>_select_and_gather_add</c>): the tangent <paramref name="t"/> (x's shape) read at each window's first maximum of <paramref name="x"/> in row-major window order (0 where the padding wins). Linear in t. Window parameters as for the pool.
    /// </summary>
    /// <param name="t">The tangent, of x's shape.</param>
    /// <param name="x">The pooled operand, whose first maxima select.</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>The tangent at the maxima, of the pool's output shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor SelectAndGather(Tensor t, Tensor x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.SelectAndGather(t, x, WindowParams.Of("Lax.SelectAndGather", window, strides, padding, windowDilation), "Lax.SelectAndGather");

    /// <summary>
    /// the JVP of <see cref="ReduceWindowMax(Tensor, int[], int[], string, int[])"/> (JAX's <c>_select_and_gather_add</c>): the tangent <paramref name="t"/> (x's shape) read at each window's first maximum of <paramref name="x"/> in row-major window order (0 where the padding wins). Linear in t. Window parameters as for the pool.
    /// </summary>
    /// <param name="t">The tangent, of x's shape.</param>
    /// <param name="x">The pooled operand, whose first maxima select.</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>The tangent at the maxima, of the pool's output shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor SelectAndGather(Tensor t, Tensor x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.SelectAndGather(t, x, WindowParams.Of("Lax.SelectAndGather", window, strides, padding, windowDilation), "Lax.SelectAndGather");

    /// <summary>
    /// the transpose of <see cref="SelectAndGather(Tensor, Tensor, int[], int[], string, int[])"/> and the reverse-mode rule of the max pool (JAX's <c>_select_and_scatter_add</c>): zeros of x's shape with each output cotangent added at its window's first maximum of <paramref name="x"/> (ties: the first in window order; dropped where the padding wins). Linear in ct. Window parameters as for the pool.
    /// </summary>
    /// <param name="ct">The cotangent of the pool's output.</param>
    /// <param name="x">The pooled operand, whose first maxima select.</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>A tensor of x's shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor SelectAndScatterAdd(Tensor ct, Tensor x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.SelectAndScatterAdd(ct, x, WindowParams.Of("Lax.SelectAndScatterAdd", window, strides, padding, windowDilation), "Lax.SelectAndScatterAdd");

    /// <summary>
    /// the transpose of <see cref="SelectAndGather(Tensor, Tensor, int[], int[], string, int[])"/> and the reverse-mode rule of the max pool (JAX's <c>_select_and_scatter_add</c>): zeros of x's shape with each output cotangent added at its window's first maximum of <paramref name="x"/> (ties: the first in window order; dropped where the padding wins). Linear in ct. Window parameters as for the pool.
    /// </summary>
    /// <param name="ct">The cotangent of the pool's output.</param>
    /// <param name="x">The pooled operand, whose first maxima select.</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>A tensor of x's shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor SelectAndScatterAdd(Tensor ct, Tensor x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.SelectAndScatterAdd(ct, x, WindowParams.Of("Lax.SelectAndScatterAdd", window, strides, padding, windowDilation), "Lax.SelectAndScatterAdd");

    /// <summary>
    /// the transpose of <see cref="ReduceWindowSum(Tensor, int[], int[], string, int[])"/>: zeros of x's shape with each output cotangent added at every tap of its window that lies in x (taps in the padding are dropped): a window sum over the padded, stride-dilated cotangent, as JAX writes it. Linear in ct. Window parameters as for the pool.
    /// </summary>
    /// <param name="ct">The cotangent of the pool's output.</param>
    /// <param name="x">The aval of the pooled operand (shape; the result takes ct's dtype).</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>A tensor of x's shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor ReduceWindowSumTranspose(Tensor ct, Aval x, int[] window, int[] strides, string padding, int[] windowDilation) => WindowOps.SumTranspose(ct, x, WindowParams.Of("Lax.ReduceWindowSumTranspose", window, strides, padding, windowDilation), "Lax.ReduceWindowSumTranspose");

    /// <summary>
    /// the transpose of <see cref="ReduceWindowSum(Tensor, int[], int[], string, int[])"/>: zeros of x's shape with each output cotangent added at every tap of its window that lies in x (taps in the padding are dropped): a window sum over the padded, stride-dilated cotangent, as JAX writes it. Linear in ct. Window parameters as for the pool.
    /// </summary>
    /// <param name="ct">The cotangent of the pool's output.</param>
    /// <param name="x">The aval of the pooled operand (shape; the result takes ct's dtype).</param>
    /// <param name="window">The pool's window.</param><param name="strides">The pool's strides.</param>
    /// <param name="padding">The pool's padding ("SAME", "VALID" or flat (low, high) pairs).</param><param name="windowDilation">The pool's window dilation.</param>
    /// <returns>A tensor of x's shape.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the window.</exception>
    public static Tensor ReduceWindowSumTranspose(Tensor ct, Aval x, int[] window, int[] strides, int[] padding, int[] windowDilation) => WindowOps.SumTranspose(ct, x, WindowParams.Of("Lax.ReduceWindowSumTranspose", window, strides, padding, windowDilation), "Lax.ReduceWindowSumTranspose");

}
