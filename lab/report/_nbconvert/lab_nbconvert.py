"""nbconvert plug-in used by lab/report/_notebook.ts (put on PYTHONPATH by executeNotebook).

Deno's Jupyter kernel (2.x) sometimes publishes a cell's `execute_result` a fraction of a millisecond *after* its
`status: idle` message (about 1 execution in 15 on a quiet machine). nbclient stops collecting a cell's outputs at
`idle`, so plain `jupyter nbconvert --execute` randomly drops rich outputs (tables, charts). This preprocessor
keeps listening for a short grace period after `idle` and files late messages under the right cell.
"""

import queue

from nbclient.exceptions import CellExecutionComplete
from nbconvert.preprocessors import ExecutePreprocessor
from traitlets import Float


class LateOutputExecutePreprocessor(ExecutePreprocessor):
    late_output_grace = Float(
        0.1, help="Seconds to keep collecting a cell's outputs after the kernel reported idle."
    ).tag(config=True)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        while True:
            try:
                msg = await self._get_iopub(self.late_output_grace)
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                pass

    async def _get_iopub(self, timeout):
        msg = self.kc.iopub_channel.get_msg(timeout=timeout)
        if hasattr(msg, "__await__"):
            msg = await msg
        return msg
