/** The negative prompt box, shown with AUTOMATIC1111's syntax (whose [brackets] de-emphasise instead). */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Tooltip } from '../../common/components/Tooltip';
import { setOption } from './optionsSlice';

export function NegativePromptInput({ tooltip }: { tooltip: string }) {
  const dispatch = useAppDispatch();
  const syntax = useAppSelector((s) => s.options.promptSyntax);
  const negative = useAppSelector((s) => s.options.negativePrompt);
  if (syntax !== 'a1111') return null;
  return (
    <>
      <label className="field__label" htmlFor="negative-prompt">
        Negative prompt
      </label>
      <Tooltip label={tooltip} block placement="right">
        <textarea
          id="negative-prompt"
          className="prompt prompt--negative"
          data-testid="negative-prompt"
          placeholder="What the image should not show (AUTOMATIC1111 syntax)"
          value={negative}
          rows={2}
          onChange={(e) => dispatch(setOption('negativePrompt', e.target.value))}
        />
      </Tooltip>
    </>
  );
}
