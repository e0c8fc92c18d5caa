// The charts island: each <div data-island="charts" data-props="<id>"> holds an ECharts
// chart whose whole option the server wrote (json_script), so a page's figures are computed
// once, in Django, and drawn here. A data item with a `url` opens it when clicked (an RFM cell
// opens its segment). Charts follow the container's size.
import "vite/modulepreload-polyfill";

import { BarChart, FunnelChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

// Only what the pages draw (a third of the full library's weight).
echarts.use([BarChart, FunnelChart, HeatmapChart, LineChart, ScatterChart, DatasetComponent,
  GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent, TitleComponent,
  TooltipComponent, VisualMapComponent, CanvasRenderer]);

function draw(element, option) {
  const chart = echarts.init(element, null, { renderer: "canvas" });
  chart.setOption(option);
  chart.on("click", (params) => {
    const url = params.data?.url;
    if (url) window.location.assign(url);
  });
  new ResizeObserver(() => chart.resize()).observe(element);
  element.dataset.chartReady = "true"; // for the browser tests
  return chart;
}

function drawWithin(root) {
  const containers = root.matches?.('[data-island="charts"]')
    ? [root] : root.querySelectorAll('[data-island="charts"]');
  for (const element of containers) {
    if (element.dataset.chartReady) continue;
    const option = JSON.parse(document.getElementById(element.dataset.props).textContent);
    draw(element, option);
  }
}

drawWithin(document);
// Content htmx swapped in (the dashboard's breakdown switch) brings its own charts.
document.body.addEventListener("htmx:load", (event) => drawWithin(event.detail.elt));
