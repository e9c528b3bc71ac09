// The part of Apache ECharts the station chart (static/js/chart.js) uses, bundled by esbuild
// (vendor.py) into static/vendor/echarts/echarts.custom.min.js with the global `echarts`.
// About a third of the full build: the browser parses and compiles it before the chart draws.
// A chart that needs another series type or component adds it here.
import { use } from "echarts/core";
import { LineChart } from "echarts/charts";
import {
  AxisPointerComponent,
  DataZoomInsideComponent,
  DataZoomSliderComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import { LabelLayout } from "echarts/features";
import { CanvasRenderer } from "echarts/renderers";

use([LineChart, GridComponent, TooltipComponent, AxisPointerComponent, LegendComponent,
  DataZoomInsideComponent, DataZoomSliderComponent, MarkLineComponent, LabelLayout,
  CanvasRenderer]);

export * from "echarts/core";
